"""Combine a retriever's scores with entailment probabilities, and the one z-normalisation of the project.

Ordering by entailment alone can destroy a good retriever ranking (SciFact, README "Choosing the mode": nDCG@10
0.64 for BM25, 0.41 for sentence-max entailment); z-normalised retriever score + w x entailment keeps the
retriever's quality (the gain measured there is small and not significant). The retriever term is z-normalised per
query so that the weight means the same for BM25 (scores ~0-40) and cosine similarity (~0-1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["ORDERS", "fused_scores", "order_column", "zscore"]

# What NLI results can be ordered by: entailment, or decisiveness = entailment + contradiction (= 1 - neutral), for
# uses where a passage that refutes the claim is as relevant as one that supports it.
ORDERS = ("entailment", "decisiveness")


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


def order_column(rows: np.ndarray, order: str = "entailment") -> np.ndarray:
    """The value (n,) an NLI order reads from probability rows (n, 3) ordered entailment, neutral, contradiction."""
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
    if order == "entailment":
        return rows[:, 0]
    if order == "decisiveness":
        return rows[:, 0] + rows[:, 2]
    raise ValueError(f"order must be one of {ORDERS}, got {order!r}")


def fused_scores(retriever_scores: Sequence[float | None], entailment: np.ndarray, weight: float) -> np.ndarray:
    """z(retriever score) + weight x entailment probability, one value per candidate."""
    return zscore(retriever_scores) + weight * np.asarray(entailment, dtype=np.float64)
