"""``rerank eval`` and ``rerank eval-nli`` end to end on tiny inputs, through the command's entry point."""

from __future__ import annotations

import json

from rerank_cli.main import main


def test_eval_retriever_only(tiny_beir, tmp_path, capsys):
    out = tmp_path / "r.json"
    code = main(["eval", "--dataset", str(tiny_beir), "--k", "5", "--metrics", "ndcg@10", "recall@5",
                 "--out", str(out), "--runs-dir", str(tmp_path / "runs"), "--no-progress"])  # fmt: skip
    assert code == 0
    table = capsys.readouterr().out
    assert "| bm25 (baseline) |" in table and "3 queries" in table
    payload = json.loads(out.read_text())
    assert payload["per_query"]["bm25"]["ndcg@10"]["q3"] == 0.0  # nothing relevant
    assert payload["per_query"]["bm25"]["recall@5"]["q2"] == 1.0
    assert (tmp_path / "runs" / "bm25.trec").read_text().startswith("q1 Q0 d1 1 ")


def test_eval_with_nli_reranker_cache_and_thresholds(tiny_beir, mini_nli_dir, tmp_path, capsys):
    args = ["eval", "--dataset", str(tiny_beir), "--k", "5", "--depth", "3", "--metrics", "mrr@10",
            "--reranker", str(mini_nli_dir), "--granularity", "sentence", "--fusion-weight", "2",
            "--min-entailment", "0.5", "--cache", str(tmp_path / "c.sqlite"), "--out", str(tmp_path / "r.json"),
            "--plot", str(tmp_path / "d.png"), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "bm25+mini-nli-minilm-l6" in first and "filtering: precision" in first
    payload = json.loads((tmp_path / "r.json").read_text())
    reranked = payload["systems"][1]
    assert reranked["pairs"] >= 3 and "fusion_weight=2.0" in reranked["notes"]
    assert 0.0 <= payload["filtering"]["empty_fraction"] <= 1.0
    assert (tmp_path / "d.png").stat().st_size > 0
    assert main(args) == 0  # served from the cache: same metrics, same replayed model time
    again = json.loads((tmp_path / "r.json").read_text())["systems"][1]
    assert again["mean"] == reranked["mean"] and again["model_seconds"] == reranked["model_seconds"]


def test_eval_errors_exit_2(tiny_beir, capsys):
    assert main(["eval", "--dataset", str(tiny_beir), "--metrics", "bleu", "--no-progress"]) == 2
    assert "unknown metric 'bleu'" in capsys.readouterr().err
    assert main(["eval", "--dataset", str(tiny_beir) + "-missing", "--no-progress"]) == 2
    assert "dataset folder not found" in capsys.readouterr().err


def test_eval_nli(mini_nli_dir, tmp_path, capsys):
    path = tmp_path / "pairs.tsv"
    path.write_text("premise\thypothesis\tlabel\n"
                    "A man is playing a guitar on stage.\tA man is playing an instrument.\tentailment\n"
                    "A man is playing a guitar on stage.\tNobody is playing music.\tcontradiction\n"
                    "A man is playing a guitar on stage.\tThe man is famous.\tneutral\n", encoding="utf-8")  # fmt: skip
    code = main(["eval-nli", "--data", str(path), "--model", str(mini_nli_dir), "--out", str(tmp_path / "n.json"),
                 "--no-progress"])  # fmt: skip
    assert code == 0
    assert "| pairs | 3 | 1.0000 | 1.0000 |" in capsys.readouterr().out
    assert json.loads((tmp_path / "n.json").read_text())["reports"]["pairs"]["confusion"] == [[1, 0, 0], [0, 1, 0],
                                                                                            [0, 0, 1]]  # fmt: skip
