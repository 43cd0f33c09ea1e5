"""Choosing min_entailment / max_contradiction / min_score on labelled pairs, for best F1 or a target precision."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from rerank.calibration.fit import binary_labels
from rerank.calibration.reliability import CalibrationRecord

# Threshold name -> (what a pair must be to count as positive, how the threshold selects pairs). min_* keep pairs
# whose probability is >= the value; max_contradiction flags pairs whose contradiction is > the value (the
# reranker drops those), so its precision is that of calling a pair a contradiction.
THRESHOLD_RULES: dict[str, tuple[str, str]] = {
    "min_entailment": ("entailment", ">="),
    "max_contradiction": ("contradiction", ">"),
    "min_score": ("relevant", ">="),
}


class ThresholdStats(CalibrationRecord):
    """What a threshold selects on one set of pairs: counts, precision, recall and F1 of the selection."""

    n: int = Field(ge=1)
    positives: int = Field(ge=0)
    selected: int = Field(ge=0)
    precision: float = Field(ge=0, le=1)
    recall: float = Field(ge=0, le=1)
    f1: float = Field(ge=0, le=1)


class ThresholdChoice(CalibrationRecord):
    """A chosen threshold (a probability of the calibrated reranker), why it was chosen, and what it does."""

    value: float = Field(ge=0, le=1)
    criterion: Literal["best_f1", "target_precision"]
    target_precision: float | None = Field(None, ge=0, le=1)
    fit: ThresholdStats
    heldout: ThresholdStats | None = None

    @model_validator(mode="after")
    def _target_given(self) -> ThresholdChoice:
        if (self.criterion == "target_precision") != (self.target_precision is not None):
            raise ValueError("target_precision is set exactly when criterion is 'target_precision'")
        return self


def _selected(scores: np.ndarray, value: float, rule: str) -> np.ndarray:
    return scores > value if rule == ">" else scores >= value


def _scores_and_positives(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or not len(s) or not np.isfinite(s).all() or (s < 0).any() or (s > 1).any():
        raise ValueError(f"scores must be n >= 1 probabilities in [0, 1], got shape {s.shape}")
    return s, binary_labels(positive, len(s))


def threshold_stats(scores: np.ndarray, positive: np.ndarray, value: float, rule: str = ">=") -> ThresholdStats:
    """Precision = TP / selected, recall = TP / positives and F1 of the pairs selected by ``scores rule value``
    (rule ">=" keeps, ">" flags); precision is 1 when nothing is selected."""
    s, y = _scores_and_positives(scores, positive)
    chosen = _selected(s, value, rule)
    tp, selected, positives = int((chosen & y).sum()), int(chosen.sum()), int(y.sum())
    precision = tp / selected if selected else 1.0
    recall = tp / positives if positives else 0.0
    f1 = 2 * tp / (selected + positives) if selected + positives else 0.0
    return ThresholdStats(n=len(s), positives=positives, selected=selected, precision=precision, recall=recall, f1=f1)


def select_threshold(
    scores: np.ndarray, positive: np.ndarray, *, rule: str = ">=", target_precision: float | None = None
) -> ThresholdChoice:
    """The threshold with the best F1, or the one with the highest recall whose precision reaches the target.

    Candidates lie midway between consecutive distinct scores (and at half the lowest), so each selects exactly
    the pairs scoring at least some observed value, under either rule, without sitting on a data point.

    Raises:
        ValueError: No positive pair, or no threshold reaching ``target_precision`` (naming the best precision).

    Example:
        >>> choice = select_threshold(np.array([0.9, 0.8, 0.3, 0.2, 0.1]), np.array([True, True, False, False, True]))
        >>> round(choice.value, 2), choice.fit.f1
        (0.55, 0.8)
    """
    s, y = _scores_and_positives(scores, positive)
    if rule not in (">=", ">"):
        raise ValueError(f"rule must be '>=' or '>', got {rule!r}")
    if target_precision is not None and not 0 < target_precision <= 1:
        raise ValueError(f"target_precision must be in (0, 1], got {target_precision!r}")
    if not y.any():
        raise ValueError(f"none of the {len(y)} pairs is positive: no threshold can be chosen")
    order = np.argsort(-s, kind="stable")
    distinct, first = np.unique(-s[order], return_index=True)  # descending scores, where each value starts
    ends = np.append(first[1:], len(s))  # selecting every pair scoring >= distinct value j selects order[:ends[j]]
    tp = np.cumsum(y[order])[ends - 1]
    precision = tp / ends
    values = -distinct
    candidates = (values + np.append(values[1:], 0.0)) / 2
    if target_precision is None:
        f1 = 2 * tp / (ends + y.sum())
        j = int(np.argmax(f1))
    else:
        reaching = np.flatnonzero(precision >= target_precision - 1e-12)
        if not len(reaching):
            best = int(np.argmax(precision))
            raise ValueError(
                f"no threshold reaches precision {target_precision} on these {len(s)} pairs (the best is "
                f"{precision[best]:.3f}, selecting {ends[best]}); choose a lower target precision"
            )
        j = int(reaching.max())  # the most pairs, hence the highest recall, at the target precision
    value = float(candidates[j])
    return ThresholdChoice(
        value=value, criterion="best_f1" if target_precision is None else "target_precision",
        target_precision=target_precision, fit=threshold_stats(s, y, value, rule),
    )  # fmt: skip
