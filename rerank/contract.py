"""The reranker contract: what a Pipeline, the evaluation harness, the CLI, the server and the framework adapters
may rely on, whatever the model kind.

A reranker scores documents against a query (``score``: one row per document, columns named by ``columns``),
turns those scores into the value results are ordered by (``order_values``), reranks candidates into
``RankedResult`` records (``rerank``), names the thresholds ``rerank`` accepts (``thresholds``) and has a
``fingerprint`` covering every setting that changes a score. ``NLIReranker`` and ``RelevanceReranker`` implement it;
so can any other class, without inheriting from anything.

Example:
    >>> isinstance(NLIReranker("path/to/model"), Reranker)  # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rerank.records import Candidate, Document, RankedResult
from rerank.validation import check_threshold

__all__ = ["Reranker", "check_thresholds"]


@runtime_checkable
class Reranker(Protocol):
    """Scores, orders and filters candidates for a query.

    Attributes:
        columns: Names of the columns of ``score``'s rows: ("entailment", "neutral", "contradiction") for NLI
            models, ("relevance",) for relevance cross-encoders (whose ``score`` returns shape (n,)).
        thresholds: Names of the keyword thresholds ``rerank`` accepts, e.g. {"min_entailment", "max_contradiction"}.
        fingerprint: Identity of every setting that changes a score (weights, backend, precision, max_length, labels,
            segmentation, template, calibration); settings that only reorder or filter are not part of it.
    """

    columns: tuple[str, ...]

    @property
    def thresholds(self) -> frozenset[str]: ...

    @property
    def fingerprint(self) -> str: ...

    def segments(self, document: Document) -> list[str]:
        """The premises ``score`` pairs with the query for this document (one model pair each)."""
        ...

    def score(self, query: str, documents: Sequence[Document | str]) -> np.ndarray:
        """Probabilities, one row (or value) per document, in input order."""
        ...

    def order_values(self, candidates: Sequence[Candidate], scores: np.ndarray) -> np.ndarray:
        """The value each candidate is ordered by (higher first), from its ``score`` row and retriever score."""
        ...

    def rerank(
        self, query: str, candidates: Sequence[Candidate | Document | str], top_k: int | None = None
    ) -> Sequence[RankedResult]:
        """Kept results first (best first, cut to ``top_k``), then every candidate a threshold filtered out.
        Implementations accept the keyword thresholds they name in ``thresholds``."""
        ...


def check_thresholds(accepted: frozenset[str], given: Mapping[str, Any], owner: str) -> dict[str, float]:
    """The thresholds that are set (None dropped), each checked as a probability and as a name ``owner`` accepts.

    Raises:
        ValueError: A threshold the reranker does not accept (naming the ones it does), or a value outside [0, 1].
        TypeError: A value that is not a number.
    """
    checked = {}
    for name, value in given.items():
        number = check_threshold(name, value)
        if number is None:
            continue
        if name not in accepted:
            raise ValueError(f"{name} does not apply to {owner}; it accepts {sorted(accepted) or 'no thresholds'}")
        checked[name] = number
    return checked
