"""NLI classification metrics: accuracy, macro-F1, confusion matrix, expected calibration error, Brier score and
negative log-likelihood.

Predictions are probability rows ``(n, 3)`` ordered entailment, neutral, contradiction (what ``NLIReranker.score``
and ``score_pairs`` return); gold labels are the names in ``NLI_LABELS``.

Example:
    >>> probs = np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1]])
    >>> accuracy(["entailment", "contradiction"], probs)
    0.5
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eval.data import NLI_LABELS
from rerank.calibration.reliability import ECE_BINS, calibration_error, classification_reliability

__all__ = [
    "NLIReport",
    "accuracy",
    "brier_score",
    "confusion_matrix",
    "evaluate_nli",
    "expected_calibration_error",
    "macro_f1",
    "negative_log_likelihood",
]

# ECE, Brier and NLL are computed by rerank.calibration.reliability, the one implementation (the calibration file
# records the same quantities).


def _check(labels: Sequence[str], probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(NLI_LABELS):
        raise ValueError(
            f"probabilities must have shape (n, 3) (entailment, neutral, contradiction), got {probabilities.shape}"
        )
    if len(labels) != len(probabilities):
        raise ValueError(f"got {len(labels)} labels but {len(probabilities)} probability rows")
    if not len(labels):
        raise ValueError("no examples to evaluate")
    index = {name: i for i, name in enumerate(NLI_LABELS)}
    unknown = sorted({label for label in labels if label not in index})
    if unknown:
        raise ValueError(f"unknown labels {unknown[:5]}; expected one of {NLI_LABELS}")
    return np.array([index[label] for label in labels]), probabilities


def accuracy(labels: Sequence[str], probabilities: np.ndarray) -> float:
    """Fraction of examples whose argmax label equals the gold label."""
    gold, probs = _check(labels, probabilities)
    return float((probs.argmax(axis=1) == gold).mean())


def confusion_matrix(labels: Sequence[str], probabilities: np.ndarray) -> np.ndarray:
    """3 x 3 counts, rows gold, columns predicted, both in NLI_LABELS order."""
    gold, probs = _check(labels, probabilities)
    matrix = np.zeros((len(NLI_LABELS), len(NLI_LABELS)), dtype=np.int64)
    np.add.at(matrix, (gold, probs.argmax(axis=1)), 1)
    return matrix


def macro_f1(labels: Sequence[str], probabilities: np.ndarray) -> float:
    """Mean over the classes present in gold or predictions of F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c)."""
    matrix = confusion_matrix(labels, probabilities)
    tp = np.diag(matrix).astype(np.float64)
    fp, fn = matrix.sum(axis=0) - tp, matrix.sum(axis=1) - tp
    present = (matrix.sum(axis=0) + matrix.sum(axis=1)) > 0
    return float((2 * tp[present] / (2 * tp[present] + fp[present] + fn[present])).mean())


def expected_calibration_error(labels: Sequence[str], probabilities: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE = sum_b (|B_b| / n) |accuracy(B_b) - mean confidence(B_b)| over equal-width confidence bins of the
    argmax probability (bin b holds confidences in ((b-1)/bins, b/bins])."""
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive int, got {bins!r}")
    gold, probs = _check(labels, probabilities)
    return calibration_error(probs.max(axis=1), (probs.argmax(axis=1) == gold).astype(np.float64), bins)


def brier_score(labels: Sequence[str], probabilities: np.ndarray) -> float:
    """Multi-class Brier score: mean over examples of sum_c (p_c - 1[c = gold])^2 (0 is perfect, 2 the worst)."""
    gold, probs = _check(labels, probabilities)
    return classification_reliability(probs, gold).brier


def negative_log_likelihood(labels: Sequence[str], probabilities: np.ndarray) -> float:
    """NLL = mean over examples of -log max(p_gold, 1e-15), in nats (0 is perfect; what temperature scaling
    minimises)."""
    gold, probs = _check(labels, probabilities)
    return classification_reliability(probs, gold).nll


@dataclass(frozen=True)
class NLIReport:
    """Every NLI metric of one model on one set."""

    n: int
    accuracy: float
    macro_f1: float
    ece: float
    brier: float
    confusion: list[list[int]]
    nll: float

    def to_dict(self) -> dict:
        return {"n": self.n, "accuracy": self.accuracy, "macro_f1": self.macro_f1, "ece": self.ece,
                "brier": self.brier, "nll": self.nll, "confusion": self.confusion,
                "labels": list(NLI_LABELS)}  # fmt: skip


def evaluate_nli(labels: Sequence[str], probabilities: np.ndarray) -> NLIReport:
    """All NLI metrics at once.

    Example:
        >>> evaluate_nli(["neutral"], np.array([[0.1, 0.8, 0.1]])).accuracy
        1.0
    """
    return NLIReport(
        n=len(labels),
        accuracy=accuracy(labels, probabilities),
        macro_f1=macro_f1(labels, probabilities),
        ece=expected_calibration_error(labels, probabilities),
        brier=brier_score(labels, probabilities),
        confusion=confusion_matrix(labels, probabilities).tolist(),
        nll=negative_log_likelihood(labels, probabilities),
    )
