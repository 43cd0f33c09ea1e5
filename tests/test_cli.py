"""The rerank command line, run in-process through its entry point and once as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rerank_cli.main import main

EXAMPLE_CORPUS = Path(__file__).resolve().parents[1] / "examples" / "corpus.jsonl"


def test_score_json_output(mini_nli_dir, capsys):
    code = main(["score", "--model", str(mini_nli_dir), "--granularity", "passage", "--fusion-weight", "none",
                 "--query", "A man is playing an instrument.",
                 "--doc", "Nobody is playing music.", "A man is playing a guitar on stage.", "--json"])  # fmt: skip
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    results = payload["results"]
    assert [r["text"] for r in results] == ["A man is playing a guitar on stage.", "Nobody is playing music."]
    assert results[0]["entailment"] > results[1]["entailment"]
    assert all(abs(r["entailment"] + r["neutral"] + r["contradiction"] - 1) < 1e-4 for r in results)


def test_score_table_output(mini_nli_dir, capsys):
    assert main(["score", "--model", str(mini_nli_dir), "--query", "A man plays.", "--doc", "A man plays guitar."]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["rank", "kept", "entail"]


def test_search_over_jsonl_corpus(mini_nli_dir, capsys):
    code = main(["search", "--corpus", str(EXAMPLE_CORPUS), "--model", str(mini_nli_dir), "--k", "5", "--top-k", "2",
                 "--query", "Aspirin reduces the risk of heart attack.", "--json"])  # fmt: skip
    assert code == 0
    (block,) = json.loads(capsys.readouterr().out)
    kept = [r for r in block["results"] if r["kept"]]
    assert len(kept) == 2 and kept[0]["id"].startswith("aspirin")


def test_search_gzip_corpus_without_reranking(tmp_path, capsys):
    import gzip

    path = tmp_path / "corpus.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"_id": "a", "text": "solar eclipse moon sun"}) + "\n")
        handle.write(json.dumps({"doc_id": "b", "title": "Cats", "text": "cats sleep a lot"}) + "\n")
        handle.write(json.dumps({"id": "c", "text": "dogs bark at night"}) + "\n")
        handle.write(json.dumps({"id": "d", "text": "birds sing in the morning"}) + "\n")
    assert main(["search", "--corpus", str(path), "--query", "cats", "--no-rerank", "--json"]) == 0
    (block,) = json.loads(capsys.readouterr().out)
    assert block["results"][0]["id"] == "b"


def test_missing_model_exits_2_with_the_fix(tmp_path, capsys):
    code = main(["score", "--model", str(tmp_path / "absent"), "--query", "q", "--doc", "d"])
    assert code == 2
    assert "--model PATH" in capsys.readouterr().err


def test_bad_corpus_line_is_named(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "1", "text": "fine"}\n{"id": "2"}\n')
    assert main(["search", "--corpus", str(path), "--query", "q", "--no-rerank"]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err


def test_console_script_and_demo_fail_clearly_offline_without_the_default_model():
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": "/nonexistent-hf-home"}
    demo = Path(__file__).resolve().parents[1] / "examples" / "demo.py"
    result = subprocess.run([sys.executable, str(demo)], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode != 0
    assert "cross-encoder/nli-deberta-v3-small" in result.stderr and "MODEL=" in result.stderr


def test_demo_runs_with_a_local_model(mini_nli_dir):
    demo = Path(__file__).resolve().parents[1] / "examples" / "demo.py"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, str(demo), "--model", str(mini_nli_dir)], capture_output=True,
                            text=True, env=env, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("claim:") == 3 and "evidence:" in result.stdout


@pytest.mark.parametrize("argv", [["score", "--query", "q"], ["nonsense"]])
def test_usage_errors_exit_nonzero(argv):
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2


def test_window_granularity_flags_and_evidence_span(mini_nli_dir, capsys):
    text = "The weather was cold. A man is playing a guitar on stage. Dogs barked outside."
    args = ["score", "--model", str(mini_nli_dir), "--query", "A man is playing an instrument.", "--doc", text,
            "--granularity", "window", "--window-tokens", "16", "--order", "decisiveness", "--language", "en",
            "--backend", "torch", "--precision", "fp32", "--json"]  # fmt: skip
    assert main(args) == 0
    (row,) = json.loads(capsys.readouterr().out)["results"]
    start, end = row["evidence_span"]
    assert text[start:end] == row["evidence"] and "guitar" in row["evidence"]


@pytest.mark.parametrize(("flag", "value"), [("--window-tokens", "0"), ("--language", "English!"),
                                             ("--aggregate", "median"), ("--order", "relevance")])  # fmt: skip
def test_bad_segmentation_flags_exit_2(mini_nli_dir, capsys, flag, value):
    args = ["score", "--model", str(mini_nli_dir), "--query", "q", "--doc", "d", flag, value]
    try:
        code = main(args)
    except SystemExit as exit:  # argparse refuses a choice itself
        code = exit.code
    assert code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_no_auto_export_flag_keeps_weights_on_torch(tiny_deberta_dir, monkeypatch, tmp_path):
    """With automatic export on (as for a user), --no-auto-export loads PyTorch weights on torch and exports nothing."""
    from rerank_cli.common import build_reranker
    from rerank_cli.main import build_parser

    monkeypatch.setenv("NLI_RERANK_AUTO_EXPORT", "1")
    monkeypatch.setenv("NLI_RERANK_CACHE", str(tmp_path / "cache"))
    args = build_parser().parse_args(["score", "--model", str(tiny_deberta_dir), "--no-auto-export", "--query", "q",
                                      "--doc", "d", "--precision", "fp32"])  # fmt: skip
    reranker = build_reranker(args, show_progress=False)
    assert reranker.model.runner.backend == "torch" and "export is off" in reranker.model.reason
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").glob("*-openvino-*"))
