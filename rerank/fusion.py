"""Combine a retriever's scores with entailment probabilities.

Measured on SciFact test (BM25 top-30, mini NLI model): ordering by entailment alone can destroy a good
retriever ranking, while z-normalised retriever score + 2 x sentence-level entailment improves on it. The
retriever term is z-normalised per query so that the weight means the same for BM25 (scores ~0-40) and cosine
similarity (~0-1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["fused_scores", "zscore"]


def zscore(scores: Sequence[float | None]) -> np.ndarray:
    """Per-list z-normalisation; all zeros when any score is missing or all scores are equal."""
    if not scores or any(score is None for score in scores):
        return np.zeros(len(scores))
    values = np.asarray(scores, dtype=np.float64)
    spread = values.std()
    if spread == 0.0:
        return np.zeros(len(values))
    return (values - values.mean()) / spread


def fused_scores(retriever_scores: Sequence[float | None], entailment: np.ndarray, weight: float) -> np.ndarray:
    """z(retriever score) + weight x entailment probability, one value per candidate."""
    return zscore(retriever_scores) + weight * np.asarray(entailment, dtype=np.float64)
