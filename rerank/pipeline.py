"""Pipeline: retrieve candidates with any retriever, then rerank them with any ``rerank.Reranker``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from rerank.contract import Reranker, check_thresholds
from rerank.records import Candidate, RankedResult
from rerank.validation import check_positive_int, check_query, check_top_k

__all__ = ["Pipeline", "Retriever"]


@runtime_checkable
class Retriever(Protocol):
    """Anything with ``retrieve(query, k) -> list[Candidate]`` can feed a pipeline."""

    def retrieve(self, query: str, k: int) -> list[Candidate]: ...


def retrieval_results(candidates: Sequence[Candidate], top_k: int | None) -> list[RankedResult]:
    """Candidates as results in the retriever's own order (score: the retriever's score)."""
    ordered = sorted(candidates, key=lambda c: c.retriever_rank)[:top_k]
    return [RankedResult(candidate=c, score=c.retriever_score, rank=rank) for rank, c in enumerate(ordered, start=1)]


class Pipeline:
    """Retrieve ``k`` candidates, rerank them and return the ``top_k`` best (plus filtered-out ones, not kept).

    Args:
        retriever: Any object with ``retrieve(query, k)``.
        reranker: A ``rerank.Reranker`` (NLIReranker, RelevanceReranker, ...), or None for retrieval only.
        k: Retrieval depth (candidates handed to the reranker).
        top_k: Results kept after reranking.
        min_entailment / max_contradiction: Thresholds of an NLI reranker (max_contradiction: 3-label models only).
        min_score: Threshold of a relevance reranker.

    A threshold the reranker does not accept is an error here, at construction, not at the first search.

    Example:
        >>> pipeline = Pipeline(BM25Retriever(docs), NLIReranker(), k=30, top_k=5)  # doctest: +SKIP
        >>> [r.document.id for r in pipeline.search("aspirin prevents stroke") if r.kept]  # doctest: +SKIP
    """

    def __init__(
        self,
        retriever: Retriever,
        reranker: Reranker | None = None,
        k: int = 100,
        top_k: int | None = 10,
        min_entailment: float | None = None,
        max_contradiction: float | None = None,
        min_score: float | None = None,
    ):
        if not callable(getattr(retriever, "retrieve", None)):
            raise TypeError(f"retriever must have a retrieve(query, k) method, got {type(retriever).__name__}")
        if reranker is not None and not isinstance(reranker, Reranker):
            raise TypeError(
                f"reranker must implement rerank.Reranker (score, rerank, order_values, segments, thresholds, "
                f"fingerprint, columns), got {type(reranker).__name__}"
            )
        self.retriever = retriever
        self.reranker = reranker
        self.k = check_positive_int("k", k)
        self.top_k = check_top_k(top_k)
        given = {"min_entailment": min_entailment, "max_contradiction": max_contradiction, "min_score": min_score}
        accepted = frozenset() if reranker is None else reranker.thresholds
        owner = "a pipeline without a reranker" if reranker is None else f"this {type(reranker).__name__}"
        self.thresholds = check_thresholds(accepted, given, owner)

    def retrieve(self, query: str) -> list[Candidate]:
        return self.retriever.retrieve(check_query(query), self.k)

    def search(self, query: str) -> list[RankedResult]:
        """Results for one query: reranked (RerankResult / RelevanceResult), or the retriever's ranking as
        RankedResult when there is no reranker."""
        return self.search_many([query])[0]

    def search_many(self, queries: Sequence[str]) -> list[list[RankedResult]]:
        """``search`` for each query, in order. Candidates are retrieved query by query, then a reranker with
        ``rerank_many`` (NLIReranker) scores the pairs of all queries in one length-sorted pass; another reranker
        reranks them one query at a time.

        Example:
            >>> [len(results) for results in pipeline.search_many(["claim one", "claim two"])]  # doctest: +SKIP
        """
        if isinstance(queries, str) or not isinstance(queries, Sequence):
            raise TypeError(f"search_many takes a list of queries, got {type(queries).__name__}; use search() for one")
        queries = [check_query(query) for query in queries]
        candidate_lists = [self.retrieve(query) for query in queries]
        if self.reranker is None:
            return [retrieval_results(candidates, self.top_k) for candidates in candidate_lists]
        options: dict[str, Any] = dict(self.thresholds)
        many = getattr(self.reranker, "rerank_many", None)
        if callable(many):
            return [list(results) for results in many(queries, candidate_lists, top_k=self.top_k, **options)]
        return [
            list(self.reranker.rerank(query, candidates, top_k=self.top_k, **options))
            for query, candidates in zip(queries, candidate_lists, strict=True)
        ]
