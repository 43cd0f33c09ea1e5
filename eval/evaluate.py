"""``evaluate(qrels, run, metrics)``: per-query and mean ranking metrics over a run.

Example:
    >>> qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}}
    >>> run = {"q1": {"d1": 0.9, "d3": 0.5}}
    >>> result = evaluate(qrels, run, ["mrr@10", "recall@10"])
    >>> result.aggregate
    {'mrr@10': 0.5, 'recall@10': 0.5}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from eval.metrics import METRICS, resolve_metric

__all__ = ["Evaluation", "evaluate", "rank_documents"]


@dataclass(frozen=True)
class Evaluation:
    """Metric values of one run.

    Attributes:
        aggregate: metric name -> mean over every query of the qrels (a query missing from the run counts 0).
        per_query: metric name -> {query_id: value}, for every query of the qrels.
    """

    aggregate: dict[str, float]
    per_query: dict[str, dict[str, float]]

    def to_dict(self) -> dict:
        return {"aggregate": self.aggregate, "per_query": self.per_query}


def rank_documents(scores: Mapping[str, float]) -> list[str]:
    """Document ids by score, best first; ties broken by document id, descending, as trec_eval does."""
    for doc_id, score in scores.items():
        if isinstance(score, bool) or not isinstance(score, (int, float)) or math.isnan(score):
            raise ValueError(f"document {doc_id!r}: run score must be a number, got {score!r}")
    return [doc_id for doc_id, _ in sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)]


def _check_nested(name: str, value: object) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict {{query_id: {{doc_id: value}}}}, got {type(value).__name__}")
    for qid, inner in value.items():
        if not isinstance(inner, Mapping):
            raise TypeError(f"{name}[{qid!r}] must be a dict {{doc_id: value}}, got {type(inner).__name__}")


def evaluate(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    metrics: Sequence[str] | str,
) -> Evaluation:
    """Score a run against qrels.

    Args:
        qrels: ``{query_id: {doc_id: relevance grade}}``; its queries define what is averaged.
        run: ``{query_id: {doc_id: score}}``; higher scores rank first. Queries not in the qrels are ignored.
        metrics: Names such as ``ndcg@10``, ``mrr@10``, ``recall@100``, ``precision@5``, ``map``, ``hit_rate@10``.

    Returns:
        An Evaluation with ``aggregate`` and ``per_query``.

    Raises:
        ValueError: An unknown metric (listing the valid ones), empty qrels, or a non-numeric score.
        TypeError: qrels or run are not nested dicts.
    """
    _check_nested("qrels", qrels)
    _check_nested("run", run)
    if not qrels:
        raise ValueError("qrels are empty: there is no query to evaluate")
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    if not names:
        raise ValueError("metrics is empty; pass names such as ['ndcg@10', 'recall@100']")
    resolved = {name: resolve_metric(name) for name in names}
    rankings = {qid: rank_documents(run.get(qid, {})) for qid in qrels}
    per_query = {
        name: {qid: METRICS[base](rankings[qid], qrels[qid], k) for qid in qrels}
        for name, (base, k) in resolved.items()
    }
    aggregate = {name: sum(values.values()) / len(values) for name, values in per_query.items()}
    return Evaluation(aggregate, per_query)
