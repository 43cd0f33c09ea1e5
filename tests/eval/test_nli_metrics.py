"""NLI metrics on hand-computed cases, and the mini NLI model's real accuracy on an SNLI slice."""

from __future__ import annotations

import numpy as np
import pytest

from eval import evaluate_nli, load_nli_tsv
from eval.nli_metrics import accuracy, brier_score, confusion_matrix, expected_calibration_error, macro_f1

LABELS = ["entailment", "neutral", "contradiction", "entailment"]
PROBS = np.array([[0.9, 0.05, 0.05], [0.1, 0.6, 0.3], [0.7, 0.2, 0.1], [0.3, 0.3, 0.4]])


def test_accuracy_confusion_and_macro_f1():
    assert accuracy(LABELS, PROBS) == 0.5
    assert confusion_matrix(LABELS, PROBS).tolist() == [[1, 0, 1], [0, 1, 0], [1, 0, 0]]
    # F1: entailment 2*1/(2+1+1) = 0.5, neutral 1, contradiction 0
    assert macro_f1(LABELS, PROBS) == pytest.approx((0.5 + 1.0 + 0.0) / 3)


def test_expected_calibration_error_by_hand():
    # confidences 0.9 (correct), 0.6 (correct), 0.7 (wrong), 0.4 (wrong); 15 bins put each in its own bin
    expected = (abs(1 - 0.9) + abs(1 - 0.6) + abs(0 - 0.7) + abs(0 - 0.4)) / 4
    assert expected_calibration_error(LABELS, PROBS) == pytest.approx(expected)
    # a single bin: |mean accuracy - mean confidence|
    assert expected_calibration_error(LABELS, PROBS, bins=1) == pytest.approx(abs(0.5 - 0.65))


def test_brier_score_by_hand():
    assert brier_score(["entailment"], np.array([[1.0, 0.0, 0.0]])) == 0.0
    assert brier_score(["neutral"], np.array([[1.0, 0.0, 0.0]])) == 2.0
    assert brier_score(["entailment"], np.array([[0.5, 0.25, 0.25]])) == pytest.approx(0.25 + 0.0625 * 2)


def test_report_and_errors():
    report = evaluate_nli(LABELS, PROBS)
    assert report.n == 4 and report.accuracy == 0.5 and report.to_dict()["labels"][0] == "entailment"
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        accuracy(["entailment"], np.array([[0.5, 0.5]]))
    with pytest.raises(ValueError, match="unknown labels"):
        accuracy(["yes"], np.array([[0.5, 0.25, 0.25]]))
    with pytest.raises(ValueError, match="2 labels but 1"):
        accuracy(["entailment", "neutral"], np.array([[0.5, 0.25, 0.25]]))


def test_mini_nli_model_beats_chance_on_an_snli_slice(mini_nli_model, nli_dir):
    from rerank import NLIReranker

    examples = load_nli_tsv(nli_dir / "snli_test.tsv", limit=60)
    reranker = NLIReranker(mini_nli_model, granularity="passage", fusion_weight=None, show_progress=False)
    report = evaluate_nli(examples.labels, reranker.score_pairs(examples.premises, examples.hypotheses))
    assert report.accuracy > 0.6 and report.macro_f1 > 0.55
    assert 0.0 <= report.ece < 0.3 and sum(map(sum, report.confusion)) == 60
