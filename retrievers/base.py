"""Helpers shared by the retrievers: deterministic top-k selection and building candidates once at the boundary."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rerank.records import Candidate, Document
from rerank.validation import check_query

__all__ = ["check_queries", "make_candidates", "top_k_indices"]


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first; ties go to the lower index, so results are reproducible.

    Example:
        >>> top_k_indices(np.array([1.0, 3.0, 3.0, 2.0]), 3).tolist()
        [1, 2, 3]
    """
    n = len(scores)
    if k >= n:
        return np.lexsort((np.arange(n), -scores))
    part = np.argpartition(-scores, k - 1)[:k]
    threshold = scores[part].min()
    above = np.flatnonzero(scores > threshold)
    tied = np.flatnonzero(scores == threshold)[: k - len(above)]
    chosen = np.concatenate([above, tied])
    return chosen[np.lexsort((chosen, -scores[chosen]))]


def make_candidates(
    documents: Sequence[Document], indices: Sequence[int], scores: Sequence[float], retriever: str
) -> list[Candidate]:
    """Candidates ranked 1, 2, ... in the given order."""
    return [
        Candidate(document=documents[int(i)], retriever=retriever, retriever_score=float(s), retriever_rank=rank)
        for rank, (i, s) in enumerate(zip(indices, scores, strict=True), start=1)
    ]


def check_queries(queries: Sequence[str]) -> list[str]:
    """A list of non-empty query strings; a single string is a TypeError (use ``retrieve`` for one query)."""
    if isinstance(queries, (str, bytes)):
        raise TypeError("retrieve_many takes a list of queries; use retrieve() for a single query")
    checked = []
    for position, query in enumerate(queries):
        try:
            checked.append(check_query(query))
        except (TypeError, ValueError) as error:
            raise type(error)(f"query at position {position}: {error}") from error
    return checked
