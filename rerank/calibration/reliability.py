"""How well probabilities match outcomes: NLL, ECE (15 bins) and Brier, the one implementation (eval.nli_metrics
reports the same quantities through it)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rerank.calibration.fit import binary_labels, gold_indices

ECE_BINS = 15
PROBABILITY_FLOOR = 1e-15  # NLL clips probabilities here: one confident mistake costs at most 34.5 nats


class CalibrationRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Reliability(CalibrationRecord):
    """How well probabilities match outcomes on n pairs (lower is better except accuracy)."""

    n: int = Field(ge=1)
    nll: float = Field(ge=0, allow_inf_nan=False)
    ece: float = Field(ge=0, le=1, allow_inf_nan=False)
    brier: float = Field(ge=0, le=2, allow_inf_nan=False)
    accuracy: float = Field(ge=0, le=1)


def calibration_error(confidence: np.ndarray, outcome: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE = sum_b (|B_b| / n) |mean outcome(B_b) - mean confidence(B_b)| over ``bins`` equal-width bins of the
    confidence (bin b holds ((b-1)/bins, b/bins])."""
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            total += members.mean() * abs(outcome[members].mean() - confidence[members].mean())
    return float(total)


def classification_reliability(probabilities: np.ndarray, gold: Sequence[int] | np.ndarray) -> Reliability:
    """Reliability of class probabilities (n, K) against gold positions, in the model's own label order.

    NLL = mean_i -log max(p_i[y_i], 1e-15); ECE = sum_b (|B_b| / n) |accuracy(B_b) - mean confidence(B_b)| over 15
    equal-width bins of the argmax probability (bin b holds ((b-1)/15, b/15]); Brier = mean_i sum_c (p_ic -
    1[c = y_i])^2; accuracy of the argmax. For 3-label NLI these equal ``eval.nli_metrics`` (a test checks it).
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or not len(p):
        raise ValueError(f"probabilities must have shape (n, K) with n >= 1, got {p.shape}")
    y = gold_indices(gold, len(p), p.shape[1])
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    return Reliability(
        n=len(y),
        nll=float(-np.log(np.maximum(p[np.arange(len(y)), y], PROBABILITY_FLOOR)).mean()),
        ece=calibration_error(p.max(axis=1), correct),
        brier=float(((p - np.eye(p.shape[1])[y]) ** 2).sum(axis=1).mean()),
        accuracy=float(correct.mean()),
    )


def binary_reliability(probabilities: np.ndarray, relevant: Sequence[bool] | np.ndarray) -> Reliability:
    """Reliability of relevance probabilities p (n,) against booleans y.

    NLL = mean_i -[y_i log p_i + (1 - y_i) log(1 - p_i)] (clipped at 1e-15); ECE = sum_b (|B_b| / n) |fraction
    relevant(B_b) - mean p(B_b)| over 15 equal-width bins of p itself; Brier = mean_i (p_i - y_i)^2; accuracy of
    p >= 0.5.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 1 or not len(p):
        raise ValueError(f"probabilities must have shape (n,) with n >= 1, got {p.shape}")
    y = binary_labels(relevant, len(p))
    chosen = np.where(y, p, 1.0 - p)
    return Reliability(
        n=len(y),
        nll=float(-np.log(np.maximum(chosen, PROBABILITY_FLOOR)).mean()),
        ece=calibration_error(p, y.astype(np.float64)),
        brier=float(((p - y) ** 2).mean()),
        accuracy=float(((p >= 0.5) == y).mean()),
    )
