"""Build runs from a retriever and a reranker's scores, in separate stages, so orderings can be recomputed for free.

The stages: ``retrieve_all`` (candidates per query, timed), ``score_all`` (the reranker's scores of the top
``depth`` candidates, through a CachedScorer when given one) and ``rerank_run`` (order by any key computed from the
candidates and the scores). Sweeping a fusion weight or a threshold only repeats the last, model-free stage.

Example:
    >>> retrieved = retrieve_all(BM25Retriever(docs), queries, k=100)  # doctest: +SKIP
    >>> scorer = CachedScorer(reranker, ".cache/scores.sqlite")  # doctest: +SKIP
    >>> scored = score_all(scorer, queries, retrieved, depth=30)  # doctest: +SKIP
    >>> run = rerank_run(retrieved, scored, fused_key(2.0))  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from rerank.fusion import fused_scores, order_column
from rerank.records import Candidate

__all__ = [
    "Retrieved",
    "Scored",
    "decisiveness_key",
    "entailment_key",
    "fused_key",
    "kept_documents",
    "relevance_key",
    "rerank_run",
    "reranker_key",
    "retrieval_run",
    "retrieve_all",
    "run_from_rankings",
    "score_all",
]

OrderKey = Callable[[Sequence[Candidate], np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Retrieved:
    """Candidates per query id and the seconds each retrieval took."""

    candidates: dict[str, list[Candidate]]
    seconds: dict[str, float]


@dataclass(frozen=True)
class Scored:
    """Reranker scores of each query's top ``depth`` candidates ((n,) relevance or (n, 3) NLI rows), with the model
    seconds and model pairs each query cost."""

    scores: dict[str, np.ndarray]
    seconds: dict[str, float]
    pairs: dict[str, int]
    depth: int


def retrieve_all(retriever, queries: Mapping[str, str], k: int, *, show_progress: bool = True) -> Retrieved:
    """``retriever.retrieve(text, k)`` for every query, timed."""
    if not callable(getattr(retriever, "retrieve", None)):
        raise TypeError(f"retriever must have a retrieve(query, k) method, got {type(retriever).__name__}")
    candidates, seconds = {}, {}
    for qid, text in tqdm(queries.items(), desc="retrieve", disable=not show_progress):
        start = time.perf_counter()
        candidates[qid] = list(retriever.retrieve(text, k))
        seconds[qid] = time.perf_counter() - start
    return Retrieved(candidates, seconds)


def score_all(
    scorer, queries: Mapping[str, str], retrieved: Retrieved, depth: int, *, show_progress: bool = True
) -> Scored:
    """Scores of the top ``depth`` candidates of every query.

    Args:
        scorer: A CachedScorer (its recorded model time is used, so cached reruns report the original cost) or any
            object with ``score(query, documents)`` (timed live; pairs counted as documents).
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be a positive int, got {depth!r}")
    timed = callable(getattr(scorer, "score_timed", None))
    if not timed and not callable(getattr(scorer, "score", None)):
        raise TypeError(f"scorer must have a score(query, documents) method, got {type(scorer).__name__}")
    scores, seconds, pairs = {}, {}, {}
    for qid, text in tqdm(queries.items(), desc="rerank", disable=not show_progress):
        documents = [c.document for c in retrieved.candidates.get(qid, [])[:depth]]
        if timed:
            scores[qid], seconds[qid], pairs[qid] = scorer.score_timed(text, documents)
        else:
            start = time.perf_counter()
            scores[qid] = np.asarray(scorer.score(text, documents), dtype=np.float64)
            seconds[qid], pairs[qid] = time.perf_counter() - start, len(documents)
    return Scored(scores, seconds, pairs, depth)


def entailment_key(candidates: Sequence[Candidate], scores: np.ndarray) -> np.ndarray:
    """Order by entailment probability (column 0 of NLI scores)."""
    return order_column(scores, "entailment") if len(candidates) else np.empty(0)


def decisiveness_key(candidates: Sequence[Candidate], scores: np.ndarray) -> np.ndarray:
    """Order by entailment + contradiction (= 1 - neutral) of NLI scores."""
    return order_column(scores, "decisiveness") if len(candidates) else np.empty(0)


def relevance_key(candidates: Sequence[Candidate], scores: np.ndarray) -> np.ndarray:
    """Order by a relevance cross-encoder's score ((n,) scores)."""
    return np.asarray(scores).reshape(len(candidates))


def fused_key(weight: float, order: str = "entailment") -> OrderKey:
    """Order by z(retriever score) + weight x entailment (or decisiveness), exactly as
    NLIReranker(fusion_weight=weight, order=order) does."""

    def key(candidates: Sequence[Candidate], scores: np.ndarray) -> np.ndarray:
        if not len(candidates):
            return np.empty(0)
        return fused_scores([c.retriever_score for c in candidates], order_column(scores, order), weight)

    return key


def reranker_key(reranker) -> OrderKey:
    """Order exactly as ``reranker.rerank`` does (its ``order_values``: entailment, fused, or relevance)."""
    order_values = getattr(reranker, "order_values", None)
    if not callable(order_values):
        raise TypeError(f"{type(reranker).__name__} has no order_values(candidates, scores); see rerank.Reranker")

    def key(candidates: Sequence[Candidate], scores: np.ndarray) -> np.ndarray:
        return np.asarray(order_values(candidates, scores), dtype=np.float64) if len(candidates) else np.empty(0)

    return key


def run_from_rankings(rankings: Mapping[str, Sequence[str]]) -> dict[str, dict[str, float]]:
    """``{qid: [doc ids, best first]}`` as a run with tie-free scores n, n-1, ..., 1."""
    return {qid: {doc_id: float(len(ids) - i) for i, doc_id in enumerate(ids)} for qid, ids in rankings.items()}


def retrieval_run(retrieved: Retrieved, k: int | None = None) -> dict[str, dict[str, float]]:
    """The retriever's own ranking (its rank order, not its raw scores, so the run is tie-free)."""
    return run_from_rankings(
        {qid: [c.document.id for c in sorted(cands, key=lambda c: c.retriever_rank)][:k]
         for qid, cands in retrieved.candidates.items()}
    )  # fmt: skip


def rerank_run(retrieved: Retrieved, scored: Scored, key: OrderKey) -> dict[str, dict[str, float]]:
    """Reorder each query's top ``depth`` candidates by ``key`` (ties: better retriever rank); the candidates below
    the depth follow in retriever order, so recall at the retrieval depth is the retriever's."""
    rankings = {}
    for qid, candidates in retrieved.candidates.items():
        candidates = sorted(candidates, key=lambda c: c.retriever_rank)
        head, tail = candidates[: scored.depth], candidates[scored.depth :]
        values = key(head, scored.scores[qid]) if head else np.empty(0)
        order = sorted(range(len(head)), key=lambda i: (-values[i], head[i].retriever_rank, i))
        rankings[qid] = [head[i].document.id for i in order] + [c.document.id for c in tail]
    return run_from_rankings(rankings)


def kept_documents(
    retrieved: Retrieved,
    scored: Scored,
    min_entailment: float | None = None,
    max_contradiction: float | None = None,
) -> dict[str, set[str]]:
    """The documents among each query's top ``depth`` that pass NLI thresholds (for filtering metrics)."""
    kept = {}
    for qid, candidates in retrieved.candidates.items():
        head = sorted(candidates, key=lambda c: c.retriever_rank)[: scored.depth]
        rows = np.asarray(scored.scores[qid]).reshape(len(head), -1) if head else np.empty((0, 3))
        mask = np.ones(len(head), dtype=bool)
        if min_entailment is not None:
            mask &= rows[:, 0] >= min_entailment
        if max_contradiction is not None:
            mask &= rows[:, 2] <= max_contradiction
        kept[qid] = {c.document.id for c, keep in zip(head, mask, strict=True) if keep}
    return kept
