"""``rerank calibrate`` end to end, and ``--calibration`` on the commands that score."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rerank.calibration import load_calibration
from rerank_cli.main import main
from tests.conftest import SHARED_DIR, require
from tests.eval.conftest import TINY_CORPUS, TINY_QRELS, TINY_QUERIES, write_beir

QUERY = "A man is playing an instrument."
DOCS = ["A man is playing a guitar on stage.", "Nobody is playing music.", "The man is famous."]


@pytest.fixture(scope="module")
def calibration_file(mini_nli_dir, shared_dir, tmp_path_factory):
    """A calibration of the mini model fitted by the command on 160 SNLI test pairs (half held out)."""
    lines = (shared_dir / "data" / "nli" / "snli_test.tsv").read_text(encoding="utf-8").splitlines()
    folder = tmp_path_factory.mktemp("calibrate")
    data = folder / "pairs.tsv"
    data.write_text("\n".join(lines[:161]) + "\n", encoding="utf-8")
    out = folder / "calibration.json"
    argv = ["calibrate", "--model", str(mini_nli_dir), "--data", str(data), "--heldout", "0.5", "--out", str(out),
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    return out


def test_calibrate_writes_a_file_the_rerankers_load(calibration_file, mini_nli_dir, capsys):
    record = load_calibration(calibration_file)
    assert record.kind == "temperature" and record.parameters["temperature"] > 0
    assert (record.data.fit_pairs, record.data.heldout_pairs, record.data.seed) == (80, 80, 0)
    assert record.data.sources[0].endswith("pairs.tsv") and set(record.metrics) == {"fit", "heldout"}
    assert record.model.source == str(mini_nli_dir)


def test_calibrate_prints_what_it_fitted(mini_nli_dir, shared_dir, tmp_path, capsys):
    out = tmp_path / "c.json"
    argv = ["calibrate", "--model", str(mini_nli_dir), "--data", str(shared_dir / "data" / "nli" / "snli_test.tsv"),
            "--limit", "60", "--target-precision", "0.8", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("temperature: temperature ") and f"wrote {out}" in printed
    assert "| fit | 60 |" in printed
    record = load_calibration(out)
    assert all(choice.target_precision == 0.8 for choice in record.thresholds.values())
    for name, choice in record.thresholds.items():
        assert f"{name} = {choice.value:.4f} (precision >= 0.8)" in printed and choice.fit.precision >= 0.8


def test_score_with_calibration_keeps_the_order_and_softens(calibration_file, mini_nli_dir, capsys):
    common = ["score", "--model", str(mini_nli_dir), "--granularity", "passage", "--fusion-weight", "none",
              "--query", QUERY, "--doc", *DOCS, "--json"]  # fmt: skip
    assert main(common) == 0
    plain = json.loads(capsys.readouterr().out)["results"]
    assert main([*common, "--calibration", str(calibration_file)]) == 0
    calibrated = json.loads(capsys.readouterr().out)["results"]
    assert [r["text"] for r in plain] == [r["text"] for r in calibrated]
    rows = [np.array([r["entailment"], r["neutral"], r["contradiction"]]) for r in (*plain, *calibrated)]
    assert [row.argmax() for row in rows[:3]] == [row.argmax() for row in rows[3:]]
    if load_calibration(calibration_file).parameters["temperature"] > 1:
        assert all(c.max() < p.max() for p, c in zip(rows[:3], rows[3:], strict=True))


def test_damaged_calibration_fails_before_the_model_loads(tmp_path, capsys):
    path = tmp_path / "calibration.json"
    path.write_text('{"format": "nli-rerank-calibration", "kind": "temperature"}', encoding="utf-8")
    code = main(["score", "--model", str(tmp_path / "no-model"), "--calibration", str(path), "--query", "q",
                 "--doc", "d"])  # fmt: skip
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1
    assert f"rerank score: error: {path}: invalid calibration file: parameters: Field required" in error
    code = main(["search", "--corpus", str(path), "--query", "q", "--calibration", str(tmp_path / "absent.json")])
    assert code == 2 and "calibration file not found" in capsys.readouterr().err


def test_calibrate_refuses_bad_flags_and_the_wrong_model_kind(mini_nli_dir, tmp_path, capsys):
    base = ["calibrate", "--model", str(mini_nli_dir), "--out", str(tmp_path / "c.json")]
    for extra, message in (
        (["--data", "x.tsv", "--heldout", "1"], "--heldout must be a fraction in [0, 1)"),
        (["--data", "x.tsv", "--target-precision", "0"], "--target-precision must be in (0, 1]"),
        (["--data", "x.tsv", "--sample", "5"], "--run and --sample go with --dataset"),
        (["--data", str(tmp_path / "x.tsv")], "pairs file not found"),
        (["--dataset", str(write_beir(tmp_path / "beir", TINY_CORPUS, TINY_QUERIES, TINY_QRELS))], "is an NLI model"),
    ):
        assert main(base + extra) == 2, extra
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:  # argparse: a required flag missing
        main(["calibrate", "--model", str(mini_nli_dir), "--out", str(tmp_path)])
    assert usage.value.code == 2
    assert "one of the arguments --data --dataset is required" in capsys.readouterr().err


def test_relevance_model_calibrates_on_a_beir_split_and_scores_with_it(tmp_path, capsys):
    model = require(SHARED_DIR / "models" / "ms-marco-MiniLM-L-12-v2-int8")
    folder = write_beir(tmp_path / "beir", TINY_CORPUS, TINY_QUERIES, TINY_QRELS)
    out = tmp_path / "relevance.json"
    argv = ["calibrate", "--model", str(model), "--dataset", str(folder), "--split", "test", "--k", "5", "--out",
            str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    record = load_calibration(out)
    assert record.kind == "platt" and record.parameters["slope"] > 0 and record.model.labels is None
    assert "beir test qrels, BM25 top 5 of 3 queries" in record.data.notes and record.data.kind == "relevance_pairs"
    assert set(record.thresholds) <= {"min_score"}
    capsys.readouterr()
    score = ["score", "--model", str(model), "--query", TINY_QUERIES["q1"], "--doc", "Aspirin lowers heart attack "
             "risk.", "Cats sleep all day.", "--json"]  # fmt: skip
    assert main([*score, "--calibration", str(out)]) == 0
    calibrated = json.loads(capsys.readouterr().out)["results"]
    assert main(score) == 0
    plain = json.loads(capsys.readouterr().out)["results"]
    assert [r["text"] for r in plain] == [r["text"] for r in calibrated]
    assert [r["relevance"] for r in plain] != [r["relevance"] for r in calibrated]
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("premise\thypothesis\tlabel\nA man plays.\tSomeone plays.\tentailment\n", encoding="utf-8")
    code = main(["calibrate", "--model", str(model), "--data", str(pairs), "--out", str(tmp_path / "x.json")])
    assert code == 2 and "is a relevance model" in capsys.readouterr().err
