"""Metrics for thresholded filtering: how good is the set of documents a threshold keeps?

Example:
    >>> report = evaluate_filter({"q1": {"d1": 1, "d2": 1}, "q2": {"d3": 1}}, {"q1": {"d1", "d9"}, "q2": set()})
    >>> (report.precision, report.recall, report.empty_fraction)
    (0.25, 0.25, 0.5)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from eval.metrics import RELEVANCE_LEVEL

__all__ = ["FilterReport", "evaluate_filter"]


@dataclass(frozen=True)
class FilterReport:
    """Macro-averaged quality of the kept sets over the qrels' queries.

    Attributes:
        precision: mean over queries of |kept ∩ relevant| / |kept| (0 for an empty kept set).
        recall: mean of |kept ∩ relevant| / |relevant| (0 when nothing is relevant).
        f1: mean of the per-query harmonic mean 2PR / (P + R) (0 when P + R = 0).
        empty_fraction: fraction of queries left with nothing kept.
        per_query: {"precision" | "recall" | "f1": {query_id: value}}.
    """

    precision: float
    recall: float
    f1: float
    empty_fraction: float
    per_query: dict[str, dict[str, float]]

    def to_dict(self) -> dict:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1,
                "empty_fraction": self.empty_fraction, "per_query": self.per_query}  # fmt: skip


def evaluate_filter(qrels: Mapping[str, Mapping[str, int]], kept: Mapping[str, Collection[str]]) -> FilterReport:
    """Precision, recall and F1 of each query's kept documents against the qrels, and the fraction left empty.

    A query of the qrels missing from ``kept`` counts as an empty kept set.
    """
    if not qrels:
        raise ValueError("qrels are empty: there is no query to evaluate")
    per_query: dict[str, dict[str, float]] = {"precision": {}, "recall": {}, "f1": {}}
    empty = 0
    for qid, judgements in qrels.items():
        kept_set = set(kept.get(qid, ()))
        relevant = {d for d, grade in judgements.items() if grade >= RELEVANCE_LEVEL}
        hits = len(kept_set & relevant)
        p = hits / len(kept_set) if kept_set else 0.0
        r = hits / len(relevant) if relevant else 0.0
        per_query["precision"][qid], per_query["recall"][qid] = p, r
        per_query["f1"][qid] = 2 * p * r / (p + r) if p + r else 0.0
        empty += not kept_set
    n = len(qrels)
    means = {name: sum(values.values()) / n for name, values in per_query.items()}
    return FilterReport(means["precision"], means["recall"], means["f1"], empty / n, per_query)
