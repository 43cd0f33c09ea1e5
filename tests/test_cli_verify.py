"""``rerank verify`` end to end with the mini NLI model: an evidence file, a corpus with BM25, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rerank_cli.main import main

CORPUS = Path(__file__).resolve().parents[1] / "examples" / "claims_corpus.jsonl"
STAGE = "The weather was cold. A man is playing a guitar on stage. The crowd cheered."
GUITAR = "A man is playing a guitar on stage."


@pytest.fixture
def evidence_file(tmp_path) -> Path:
    path = tmp_path / "evidence.jsonl"
    path.write_text(json.dumps({"id": "stage", "title": "Concert", "text": STAGE}) + "\n", encoding="utf-8")
    return path


def verify_json(capsys, *argv: str) -> list[dict]:
    assert main(["verify", *argv, "--json", "--no-progress"]) == 0
    return json.loads(capsys.readouterr().out)


def test_evidence_file_json(mini_nli_dir, evidence_file, capsys):
    supported, refuted = verify_json(
        capsys, "--model", str(mini_nli_dir), "--evidence", str(evidence_file),
        "--claim", "A man is playing an instrument.", "Nobody is playing music.",
    )  # fmt: skip
    assert (supported["label"], refuted["label"]) == ("SUPPORTS", "REFUTES")
    top = supported["evidence"][0]
    assert top["document_id"] == "stage" and top["text"] == GUITAR
    assert STAGE[top["span"][0] : top["span"][1]] == GUITAR
    assert set(supported) == {"claim", "label", "confidence", "reason", "evidence", "max_entailment",
                              "max_contradiction"}  # fmt: skip


def test_text_evidence_file_and_thresholds(mini_nli_dir, tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("\nA man is playing a guitar on stage.\n\n", encoding="utf-8")
    (verdict,) = verify_json(
        capsys, "--model", str(mini_nli_dir), "--evidence", str(path), "--claim", "A man is playing an instrument.",
        "--min-entailment", "0.999",
    )  # fmt: skip
    assert verdict["label"] == "NOT_ENOUGH_INFO" and "min_entailment 0.999" in verdict["reason"]
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    (verdict,) = verify_json(capsys, "--model", str(mini_nli_dir), "--evidence", str(empty), "--claim", "Any claim.")
    assert verdict["label"] == "NOT_ENOUGH_INFO" and verdict["confidence"] == 1.0


def test_corpus_with_bm25_readable_output(mini_nli_dir, capsys):
    argv = ["verify", "--model", str(mini_nli_dir), "--corpus", str(CORPUS), "--k", "1", "--no-progress",
            "--claim", "Sleep helps memory.", "Jupiter has 95 moons."]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("claim: ") == 2 and "verdict: SUPPORTS" in out and "[sleep-memory, chars " in out
    assert "verdict: NOT_ENOUGH_INFO (confidence 1.000)" in out  # BM25 finds nothing for Jupiter


def test_corpus_json_reads_only_the_top_k(mini_nli_dir, capsys):
    (verdict,) = verify_json(
        capsys, "--model", str(mini_nli_dir), "--corpus", str(CORPUS), "--k", "1", "--claim", "Sleep helps memory.",
        "--min-entailment", "0",
    )  # fmt: skip
    assert {item["document_id"] for item in verdict["evidence"]} == {"sleep-memory"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--claim", " ", "--evidence", "x.jsonl"], "--claim number 1 is empty"),
        (["--claim", "c", "--corpus", "x.jsonl", "--k", "0"], "--k must be >= 1"),
        (["--claim", "c", "--evidence", "absent.jsonl"], "absent.jsonl"),
        (["--claim", "c", "--evidence", "x.txt", "--min-entailment", "2"], "min_entailment"),
        (["--claim", "c", "--evidence", "x.txt", "--min-score", "0.5"], "--min-entailment and --max-contradiction"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["verify", "--model", str(tmp_path / "no-model"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rerank verify: error:") and message in err and err.count("\n") == 1


def test_evidence_or_corpus_is_required():
    with pytest.raises(SystemExit) as raised:
        main(["verify", "--claim", "c"])
    assert raised.value.code == 2


def test_calibration_file_gives_the_thresholds(mini_nli_dir, shared_dir, evidence_file, tmp_path, capsys):
    calibration = pytest.importorskip("rerank.calibration")
    from rerank import NLIReranker
    from rerank.nli_tsv import read_nli_tsv

    pairs = read_nli_tsv(shared_dir / "data" / "nli" / "snli_validation.tsv", labels=True, limit=300)
    record = calibration.calibrate_nli(NLIReranker(str(mini_nli_dir), granularity="passage"), pairs)
    path = calibration.save_calibration(record, tmp_path / "mini.json")
    chosen = record.threshold_values()
    (verdict,) = verify_json(
        capsys, "--model", str(mini_nli_dir), "--evidence", str(evidence_file), "--calibration", str(path),
        "--claim", "A man is playing an instrument.",
    )  # fmt: skip
    assert (
        f"min_entailment {chosen['min_entailment']:g}, max_contradiction {chosen['max_contradiction']:g}"
        in (verdict["reason"])
    )
