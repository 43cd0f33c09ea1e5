"""The one place where logits become probabilities: softmax over an NLI model's labels, sigmoid for relevance.

A head knows the model's label order (NLI) and an optional calibration that rescales the logits first: a
temperature for NLI heads, two Platt parameters for relevance heads. Calibration changes probabilities, not the
argmax of an NLI row nor the order of relevance scores; it is part of a reranker's fingerprint.

Example:
    >>> from rerank.labels import label_map_from_names
    >>> head = NLIHead(label_map_from_names(["contradiction", "entailment", "neutral"]))
    >>> head(np.array([[0.0, 2.0, 0.0]])).round(3).tolist()  # columns entailment, neutral, contradiction
    [[0.787, 0.107, 0.107]]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rerank.labels import LabelMap, to_nli_columns

__all__ = ["NLI_COLUMNS", "RELEVANCE_COLUMNS", "NLIHead", "Platt", "RelevanceHead", "Temperature", "sigmoid", "softmax"]

NLI_COLUMNS = ("entailment", "neutral", "contradiction")
RELEVANCE_COLUMNS = ("relevance",)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, stable for large logits."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def sigmoid(values: np.ndarray) -> np.ndarray:
    """Elementwise logistic function in float64."""
    return 1.0 / (1.0 + np.exp(-np.asarray(values, dtype=np.float64)))


def _check_finite_logits(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits)
    if logits.size and not np.isfinite(logits).all():
        rows = np.flatnonzero(~np.isfinite(logits).reshape(len(logits), -1).all(axis=1))
        raise ValueError(
            f"the model returned non-finite logits (NaN or inf) for {len(rows)} pair(s), first at position "
            f"{int(rows[0])}; the weights or the exported graph are damaged, or bf16/int8 overflowed (try fp32)"
        )
    return logits


@dataclass(frozen=True)
class Temperature:
    """NLI calibration: logits are divided by ``temperature`` (> 0) before the softmax."""

    temperature: float

    def __post_init__(self) -> None:
        if (
            not (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature))
            or self.temperature <= 0
        ):
            raise ValueError(f"temperature must be a finite number > 0, got {self.temperature!r}")

    def identity(self) -> dict[str, Any]:
        return {"temperature": float(self.temperature)}


@dataclass(frozen=True)
class Platt:
    """Relevance calibration: probability = sigmoid(slope x logit + intercept), slope > 0."""

    slope: float
    intercept: float

    def __post_init__(self) -> None:
        for name in ("slope", "intercept"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise ValueError(f"Platt {name} must be a finite number, got {value!r}")
        if self.slope <= 0:
            raise ValueError(f"Platt slope must be > 0 (a negative slope reverses the order), got {self.slope!r}")

    def identity(self) -> dict[str, Any]:
        return {"platt": [float(self.slope), float(self.intercept)]}


@dataclass(frozen=True)
class NLIHead:
    """Logits (n, num_labels) in the model's label order -> probabilities (n, 3): entailment, neutral, contradiction.

    A 2-label model puts its non-entailment mass in the neutral column and contradiction is 0.
    """

    label_map: LabelMap
    calibration: Temperature | None = None
    columns: tuple[str, ...] = field(default=NLI_COLUMNS, init=False)

    def __call__(self, logits: np.ndarray) -> np.ndarray:
        logits = _check_finite_logits(logits).astype(np.float64)
        if self.calibration is not None:
            logits = logits / self.calibration.temperature
        return to_nli_columns(softmax(logits), self.label_map)

    def identity(self) -> dict[str, Any]:
        """What the fingerprint records: the label positions and the calibration."""
        label_map = self.label_map
        return {
            "labels": [label_map.num_labels, label_map.entailment, label_map.neutral, label_map.contradiction,
                       label_map.other],
            "calibration": None if self.calibration is None else self.calibration.identity(),
        }  # fmt: skip


@dataclass(frozen=True)
class RelevanceHead:
    """Logits (n, 1) of a relevance cross-encoder -> probabilities (n,)."""

    calibration: Platt | None = None
    columns: tuple[str, ...] = field(default=RELEVANCE_COLUMNS, init=False)

    def __call__(self, logits: np.ndarray) -> np.ndarray:
        values = _check_finite_logits(logits)[:, 0].astype(np.float64)
        if self.calibration is not None:
            values = self.calibration.slope * values + self.calibration.intercept
        return sigmoid(values)

    def identity(self) -> dict[str, Any]:
        return {"calibration": None if self.calibration is None else self.calibration.identity()}
