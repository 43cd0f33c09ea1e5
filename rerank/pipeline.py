"""Pipeline: retrieve candidates with any retriever, then rerank them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from rerank.records import Candidate
from rerank.validation import check_positive_int, check_query, check_threshold, check_top_k

__all__ = ["Pipeline", "Retriever"]


@runtime_checkable
class Retriever(Protocol):
    """Anything with ``retrieve(query, k) -> list[Candidate]`` can feed a pipeline."""

    def retrieve(self, query: str, k: int) -> list[Candidate]: ...


class Pipeline:
    """Retrieve ``k`` candidates, rerank them and return the ``top_k`` best (plus filtered-out ones, not kept).

    Args:
        retriever: Any object with ``retrieve(query, k)``.
        reranker: An NLIReranker or RelevanceReranker, or None for retrieval only.
        k: Retrieval depth (candidates handed to the reranker).
        top_k: Results kept after reranking.
        min_entailment / max_contradiction: Thresholds passed to an NLI reranker.

    Example:
        >>> pipeline = Pipeline(BM25Retriever(docs), NLIReranker(), k=30, top_k=5)  # doctest: +SKIP
        >>> [r.document.id for r in pipeline.search("aspirin prevents stroke") if r.kept]  # doctest: +SKIP
    """

    def __init__(
        self,
        retriever: Retriever,
        reranker: Any = None,
        k: int = 100,
        top_k: int = 10,
        min_entailment: float | None = None,
        max_contradiction: float | None = None,
    ):
        if not callable(getattr(retriever, "retrieve", None)):
            raise TypeError(f"retriever must have a retrieve(query, k) method, got {type(retriever).__name__}")
        if reranker is not None and not callable(getattr(reranker, "rerank", None)):
            raise TypeError(f"reranker must have a rerank(query, candidates) method, got {type(reranker).__name__}")
        self.retriever = retriever
        self.reranker = reranker
        self.k = check_positive_int("k", k)
        self.top_k = check_top_k(top_k)
        self.thresholds = {
            name: value
            for name, value in (
                ("min_entailment", check_threshold("min_entailment", min_entailment)),
                ("max_contradiction", check_threshold("max_contradiction", max_contradiction)),
            )
            if value is not None
        }
        if self.thresholds and reranker is None:
            raise ValueError("thresholds need a reranker; pass one or drop min_entailment/max_contradiction")

    def retrieve(self, query: str) -> list[Candidate]:
        return self.retriever.retrieve(check_query(query), self.k)

    def search(self, query: str) -> list:
        """Rerank results for one query (RerankResult / RelevanceResult), or candidates when there is no reranker."""
        candidates = self.retrieve(query)
        if self.reranker is None:
            return candidates[: self.top_k]
        return self.reranker.rerank(query, candidates, top_k=self.top_k, **self.thresholds)

    def search_many(self, queries: Sequence[str]) -> list[list]:
        """``search`` for each query, in order."""
        if isinstance(queries, str):
            raise TypeError("search_many takes a list of queries; use search() for one")
        return [self.search(query) for query in queries]
