"""Ranking metrics, one per function, each with its formula; the ``METRICS`` registry maps user-facing names to them.

Every function takes one query's ranking (document ids, best first, already sorted) and its judgements
(``{doc_id: grade}``) and returns a float in [0, 1]. ``k`` truncates the ranking first; None reads all of it.
A document is relevant when its grade is >= 1 (trec_eval's default); nDCG uses the grade itself as gain
(negative grades count 0), as trec_eval's ``ndcg_cut`` does.

Example:
    >>> ndcg(["d3", "d1", "d2"], {"d1": 2, "d2": 1}, k=3)
    0.66967181649423
    >>> resolve_metric("mrr@10")
    ('mrr', 10)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

__all__ = [
    "METRICS",
    "average_precision",
    "hit_rate",
    "ndcg",
    "precision",
    "recall",
    "reciprocal_rank",
    "resolve_metric",
]

RELEVANCE_LEVEL = 1


def _cut(ranking: Sequence[str], k: int | None) -> Sequence[str]:
    return ranking if k is None else ranking[:k]


def _relevant(judgements: Mapping[str, int]) -> set[str]:
    return {doc_id for doc_id, grade in judgements.items() if grade >= RELEVANCE_LEVEL}


def ndcg(ranking: Sequence[str], judgements: Mapping[str, int], k: int | None = None) -> float:
    """Normalised discounted cumulative gain.

    DCG@k = sum_{i=1..k} g(d_i) / log2(i + 1) with g the (non-negative) grade; nDCG@k = DCG@k / IDCG@k, where IDCG
    is the DCG of the judgements sorted by grade. 0 when no document has a positive grade.
    """
    gains = [max(0, judgements.get(doc_id, 0)) for doc_id in _cut(ranking, k)]
    dcg = sum(gain / math.log2(i + 2) for i, gain in enumerate(gains) if gain > 0)
    ideal = sorted((g for g in judgements.values() if g > 0), reverse=True)
    idcg = sum(gain / math.log2(i + 2) for i, gain in enumerate(_cut(ideal, k)))
    return dcg / idcg if idcg > 0 else 0.0


def reciprocal_rank(ranking: Sequence[str], judgements: Mapping[str, int], k: int | None = None) -> float:
    """Reciprocal rank: 1 / rank of the first relevant document within the top k, 0 when there is none."""
    relevant = _relevant(judgements)
    for i, doc_id in enumerate(_cut(ranking, k), start=1):
        if doc_id in relevant:
            return 1.0 / i
    return 0.0


def recall(ranking: Sequence[str], judgements: Mapping[str, int], k: int | None = None) -> float:
    """Recall@k = |relevant ∩ top k| / |relevant|; 0 when nothing is relevant."""
    relevant = _relevant(judgements)
    if not relevant:
        return 0.0
    return len(relevant.intersection(_cut(ranking, k))) / len(relevant)


def precision(ranking: Sequence[str], judgements: Mapping[str, int], k: int | None = None) -> float:
    """Precision@k = |relevant ∩ top k| / k (trec_eval divides by k even when fewer were retrieved); without k,
    the denominator is the number retrieved."""
    relevant = _relevant(judgements)
    cut = _cut(ranking, k)
    denominator = k if k is not None else len(cut)
    return len(relevant.intersection(cut)) / denominator if denominator else 0.0


def average_precision(ranking: Sequence[str], judgements: Mapping[str, int], k: int | None = None) -> float:
    """Average precision: (1 / |relevant|) x sum over relevant documents d_i in the top k of Precision@i."""
    relevant = _relevant(judgements)
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for i, doc_id in enumerate(_cut(ranking, k), start=1):
        if doc_id in relevant:
            hits += 1
            total += hits / i
    return total / len(relevant)


def hit_rate(ranking: Sequence[str], judgements: Mapping[str, int], k: int | None = None) -> float:
    """Hit rate (trec_eval "success"): 1 when at least one relevant document is in the top k, else 0."""
    relevant = _relevant(judgements)
    return 1.0 if any(doc_id in relevant for doc_id in _cut(ranking, k)) else 0.0


Metric = Callable[[Sequence[str], Mapping[str, int], "int | None"], float]

METRICS: dict[str, Metric] = {
    "ndcg": ndcg,
    "mrr": reciprocal_rank,
    "recall": recall,
    "precision": precision,
    "map": average_precision,
    "hit_rate": hit_rate,
}
_ALIASES = {"p": "precision", "r": "recall", "rr": "mrr", "ap": "map", "success": "hit_rate", "hits": "hit_rate"}


def resolve_metric(name: str) -> tuple[str, int | None]:
    """Split a metric name such as ``ndcg@10`` or ``map`` into its registry key and cutoff.

    Raises:
        ValueError: Unknown metric (the message lists every valid name) or a cutoff that is not a positive integer.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"metric name must be a non-empty string such as 'ndcg@10', got {name!r}")
    base, _, cutoff = name.strip().lower().partition("@")
    base = _ALIASES.get(base, base)
    if base not in METRICS:
        raise ValueError(
            f"unknown metric {name!r}; valid metrics: {sorted(METRICS)} (optionally with @k, e.g. ndcg@10)"
        )
    if not cutoff:
        return base, None
    if not cutoff.isdigit() or int(cutoff) < 1:
        raise ValueError(f"metric {name!r}: the cutoff after '@' must be a positive integer")
    return base, int(cutoff)
