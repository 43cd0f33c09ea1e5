"""The result order both rerankers share: kept before filtered out, best score first, ties to the retriever."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rerank.records import Candidate, Document, has_visible_text

__all__ = ["check_scorable", "result_order"]


def check_scorable(documents: Sequence[Document]) -> None:
    """Raise ValueError naming the first document with nothing to score (blank or invisible characters only)."""
    for document in documents:
        if not has_visible_text(document.content):
            raise ValueError(f"document {document.id!r} has no text to score")


def result_order(
    order_by: np.ndarray, kept: np.ndarray, candidates: Sequence[Candidate], top_k: int | None
) -> list[int]:
    """Candidate positions in result order: the first ``top_k`` kept ones, then every filtered-out one.

    Within each group: higher ``order_by`` first, then the better retriever rank, then input position.
    """
    order = sorted(range(len(candidates)), key=lambda i: (not kept[i], -order_by[i], candidates[i].retriever_rank, i))
    return [i for i in order if kept[i]][:top_k] + [i for i in order if not kept[i]]
