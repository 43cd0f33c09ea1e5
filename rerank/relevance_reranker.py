"""RelevanceReranker: a 1-logit relevance cross-encoder (e.g. MS MARCO MiniLM) with the same batching machinery.

Its score is the sigmoid of the logit, a relevance estimate in [0, 1]; it is not an NLI probability and is never
split into fake entailment/neutral/contradiction columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rerank.backends import LoadedModel
from rerank.calibration import CalibrationInput, resolve_calibration
from rerank.contract import check_thresholds
from rerank.fingerprint import fingerprint
from rerank.head import RELEVANCE_COLUMNS, Platt, RelevanceHead
from rerank.options import ModelOptions
from rerank.ordering import check_scorable, result_order
from rerank.records import (
    Candidate,
    Document,
    RelevanceResult,
    as_candidates,
    as_documents,
    check_text,
    has_visible_text,
)
from rerank.scorer import CrossEncoderScorer
from rerank.validation import check_query, check_top_k

__all__ = ["RelevanceReranker"]

THRESHOLDS = frozenset({"min_score"})


class RelevanceReranker:
    """Score and rerank passages with a relevance cross-encoder (query first, passage second, as such models are
    trained); implements ``rerank.Reranker``.

    Args:
        model: Hub id, local directory, or a model already loaded with ``rerank.load_model``.
        calibration: A calibration file written by ``rerank calibrate`` (path or CalibrationFile) or a
            ``rerank.head.Platt``: the score becomes sigmoid(slope x logit + intercept), a probability of relevance
            on the data it was fitted on; the order of scores never changes (docs/calibration.md).
        options: A ``rerank.ModelOptions``; keyword options (``batch_size=16``, ...) are applied on top of it.

    Example:
        >>> reranker = RelevanceReranker("path/to/ms-marco-MiniLM-L-12-v2")  # doctest: +SKIP
        >>> reranker.rerank("what lowers blood pressure", ["Salt raises it.", "Diuretics lower it."])  # doctest: +SKIP
    """

    columns = RELEVANCE_COLUMNS
    thresholds = THRESHOLDS

    def __init__(
        self,
        model: str | LoadedModel,
        *,
        calibration: CalibrationInput = None,
        options: ModelOptions | None = None,
        **option_values: Any,
    ):
        self._scorer = CrossEncoderScorer(model, options, **option_values)
        if self._scorer.model.num_logits != 1:
            raise ValueError(
                f"model {self._scorer.model.source!r} has {self._scorer.model.num_logits} output logits; "
                "RelevanceReranker needs a 1-logit relevance cross-encoder (use NLIReranker for NLI models)"
            )
        platt, self.calibration_file = resolve_calibration(
            calibration, Platt, self.model, f"RelevanceReranker({self.model.source!r})"
        )
        self.head = RelevanceHead(calibration=platt)

    @property
    def model(self) -> LoadedModel:
        return self._scorer.model

    @property
    def options(self) -> ModelOptions:
        return self._scorer.options

    @property
    def calibration(self) -> Platt | None:
        """The Platt scaling the head applies, or None (plain sigmoid)."""
        return self.head.calibration

    @property
    def truncated_pairs(self) -> int:
        return self._scorer.truncated_pairs

    @property
    def fingerprint(self) -> str:
        return fingerprint({"reranker": "relevance", "scorer": self._scorer.fingerprint, "head": self.head.identity()})

    def segments(self, document: Document) -> list[str]:
        """A relevance model reads the whole passage ("Title. Text")."""
        return [document.content]

    def score(self, query: str, documents: Sequence[Document | str]) -> np.ndarray:
        """Relevance probabilities (n,) in input order."""
        query = check_query(query)
        documents = as_documents(documents)
        check_scorable(documents)
        # Relevance models are trained on (query, passage) pairs, the reverse of the NLI order.
        logits = self._scorer.logits([d.content for d in documents], [query] * len(documents), query_first=True)
        return self.head(logits)

    def pair_logits(self, queries: Sequence[str], passages: Sequence[str]) -> np.ndarray:
        """Raw logits (n, 1) of (query, passage) pairs, before any calibration: what ``rerank.calibration`` fits on."""
        if len(queries) != len(passages):
            raise ValueError(f"got {len(queries)} queries but {len(passages)} passages")
        for name, texts in (("query", queries), ("passage", passages)):
            for position, text in enumerate(texts):
                if not isinstance(text, str) or not has_visible_text(text):
                    raise ValueError(f"{name} at position {position} must be a non-empty str, got {text!r:.40}")
                check_text(f"{name} at position {position}", text)
        return self._scorer.logits(list(passages), list(queries), query_first=True)

    def order_values(self, candidates: Sequence[Candidate], scores: np.ndarray) -> np.ndarray:
        """The relevance probability itself."""
        return np.asarray(scores, dtype=np.float64).reshape(len(candidates))

    def check_thresholds(self, **given: Any) -> dict[str, float]:
        return check_thresholds(self.thresholds, given, f"RelevanceReranker({self.model.source!r})")

    def rerank(
        self,
        query: str,
        candidates: Sequence[Candidate | Document | str],
        top_k: int | None = None,
        min_score: float | None = None,
    ) -> list[RelevanceResult]:
        """Order candidates by relevance (ties to the better retriever rank); below ``min_score`` is not kept."""
        limits = self.check_thresholds(min_score=min_score)
        top_k = check_top_k(top_k)
        candidates = as_candidates(candidates)
        scores = self.score(query, [c.document for c in candidates])
        order_by = self.order_values(candidates, scores)
        kept = scores >= limits["min_score"] if limits else np.ones(len(candidates), dtype=bool)
        return [
            RelevanceResult(candidate=candidates[i], score=float(scores[i]), rank=rank, kept=bool(kept[i]))
            for rank, i in enumerate(result_order(order_by, kept, candidates, top_k), start=1)
        ]
