"""Combine a retriever's scores with entailment probabilities, and the one z-normalisation of the project.

Ordering by entailment alone can destroy a good retriever ranking (SciFact, README "Choosing the mode": nDCG@10
0.64 for BM25, 0.41 for sentence-max entailment); z-normalised retriever score + w x entailment keeps the
retriever's quality (the gain measured there is small and not significant). The retriever term is z-normalised per
query so that the weight means the same for BM25 (scores ~0-40) and cosine similarity (~0-1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["fused_scores", "zscore"]


def zscore(scores: Sequence[float | None] | np.ndarray) -> np.ndarray:
    """(s - mean) / std (population std) over one list; all zeros when any score is missing (None) or all are equal.

    Example:
        >>> zscore([1.0, 3.0]).tolist()
        [-1.0, 1.0]
    """
    if not isinstance(scores, np.ndarray) and any(score is None for score in scores):
        return np.zeros(len(scores))
    values = np.asarray(scores, dtype=np.float64)
    if values.size == 0:
        return values
    spread = values.std()
    if spread == 0.0:
        return np.zeros(len(values))
    return (values - values.mean()) / spread


def fused_scores(retriever_scores: Sequence[float | None], entailment: np.ndarray, weight: float) -> np.ndarray:
    """z(retriever score) + weight x entailment probability, one value per candidate."""
    return zscore(retriever_scores) + weight * np.asarray(entailment, dtype=np.float64)
