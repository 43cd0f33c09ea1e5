"""``rerank groundedness`` end to end with the mini NLI model: JSONL and text passages, an answer file, no passages,
and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rerank_cli.main import main

STAGE = "The weather was cold. A man is playing a guitar on stage. The crowd cheered."
ANSWER = "A man is playing an instrument. Nobody is playing music."


@pytest.fixture
def jsonl_passages(tmp_path) -> Path:
    path = tmp_path / "passages.jsonl"
    rows = [{"id": "stage", "title": "Concert", "text": STAGE}, {"_id": "dog", "text": "A dog sleeps on a sofa."}]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def run_json(capsys, *argv: str) -> dict:
    assert main(["groundedness", *argv, "--json", "--no-progress", "--backend", "torch"]) == 0
    return json.loads(capsys.readouterr().out)


def test_jsonl_passages_json_output(mini_nli_dir, jsonl_passages, capsys):
    result = run_json(capsys, "--model", str(mini_nli_dir), "--passages", str(jsonl_passages), "--answer", ANSWER)
    supported, contradicted = result["sentences"]
    assert (supported["label"], contradicted["label"]) == ("SUPPORTED", "CONTRADICTED")
    assert not result["fully_supported"] and result["answer"] == ANSWER
    for check in result["sentences"]:
        assert ANSWER[check["span"][0] : check["span"][1]] == check["text"]
    evidence = supported["evidence"]
    assert evidence["document_id"] == "stage" and STAGE[evidence["span"][0] : evidence["span"][1]] == evidence["text"]
    assert contradicted["contradiction"]["document_id"] == "stage"
    assert set(result) == {"answer", "score", "min_score", "fully_supported", "sentences", "min_entailment",
                           "max_contradiction"}  # fmt: skip


def test_text_passages_answer_file_readable_output(mini_nli_dir, tmp_path, capsys):
    passages = tmp_path / "passages.txt"
    passages.write_text(f"\n{STAGE}\n\n", encoding="utf-8")
    answer = tmp_path / "answer.txt"
    answer.write_text(ANSWER + "\n", encoding="utf-8")
    argv = ["groundedness", "--model", str(mini_nli_dir), "--passages", str(passages), "--answer-file", str(answer),
            "--no-progress", "--backend", "torch", "--granularity", "sentence"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("fully supported: no; 2 sentence(s): 1 supported, 0 unsupported, 1 contradicted")
    assert "ok [chars 0-31] A man is playing an instrument.\n" in out
    assert "XX CONTRADICTED [chars 32-56] Nobody is playing music.\n" in out
    assert "best support: [2, chars 22-57] A man is playing a guitar on stage." in out  # line 2, sentence span
    assert "contradicted by: [2, chars 22-57]" in out


def test_no_passages_loads_no_model(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    result = run_json(capsys, "--model", str(tmp_path / "absent-model"), "--passages", str(empty), "--answer", ANSWER)
    assert [s["label"] for s in result["sentences"]] == ["UNSUPPORTED", "UNSUPPORTED"]
    assert "no passages were given" in result["sentences"][0]["reason"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--answer", "  "], "the answer is empty"),
        (["--answer", "A claim.", "--min-score", "0.5"], "--min-entailment and --max-contradiction only"),
        (["--answer", "A claim.", "--min-entailment", "1.5"], "min_entailment"),
        (["--answer-file", "no/such/answer.txt"], "answer file not found"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, extra, message):
    passages = tmp_path / "p.txt"
    passages.write_text("A passage.\n", encoding="utf-8")
    assert main(["groundedness", "--model", str(tmp_path / "absent"), "--passages", str(passages), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rerank groundedness: error:") and message in err and err.count("\n") == 1


def test_missing_passages_file_and_both_answers(tmp_path, capsys):
    assert main(["groundedness", "--answer", "A.", "--passages", str(tmp_path / "none.txt")]) == 2
    assert "passages file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["groundedness", "--answer", "A.", "--answer-file", "f", "--passages", "p"])
    assert exit_info.value.code == 2
