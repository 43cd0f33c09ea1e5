"""Haystack 3: ``NLIRanker``, a ``@component`` that reranks and filters documents and serialises into a Pipeline.

A saved pipeline names this class by its module, which Haystack 3 refuses to load unless allowed (docs/integrations.md):
``Pipeline.loads(text, allowed_modules=["rerank.integrations.haystack"])``, or process-wide
``haystack.core.serialization.allow_deserialization_module("rerank.integrations.haystack")`` or the environment
variable ``HAYSTACK_DESERIALIZATION_ALLOWLIST=rerank.integrations.haystack``. Needs
``pip install 'nli-rerank[haystack]'``.

Example:
    >>> from rerank.integrations.haystack import NLIRanker
    >>> ranker = NLIRanker(model="cross-encoder/nli-deberta-v3-small", top_k=5)  # doctest: +SKIP
    >>> ranker.warm_up()  # doctest: +SKIP
    >>> ranker.run(query="Aspirin prevents heart attacks.", documents=documents)["documents"]  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
from typing import Any

from rerank.contract import Reranker
from rerank.errors import MissingDependencyError
from rerank.integrations._shared import build_reranker, checked_thresholds, rerank_texts
from rerank.nli_reranker import DEFAULT_MODEL
from rerank.validation import check_threshold, check_top_k

try:
    from haystack import Document, component, default_from_dict, default_to_dict
except ImportError as error:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        "rerank.integrations.haystack needs haystack-ai; install it with: pip install 'nli-rerank[haystack]'"
    ) from error

__all__ = ["NLIRanker"]


@component
class NLIRanker:
    """Rerank Haystack documents with an NLI cross-encoder; keep the best ``top_k``.

    ``run`` returns ``{"documents": [...]}``: copies of the kept documents, best first, with ``score`` =
    ``relevance_score`` (in [0, 1]: the probability the order is based on, entailment by default) and in ``meta``
    ``relevance_score``, ``entailment`` / ``neutral`` / ``contradiction``, ``evidence`` (at sentence or window
    granularity) and ``fused_score`` (the order value, when the reranker fuses the retriever score, which every
    document had). Documents sharing an id are reranked once (the one with the highest retriever score is kept).

    Args:
        model: Hub id or directory of an NLI model (a string, so that the pipeline can be saved).
        top_k: How many documents to return at most (None: every kept one).
        score_threshold: Drop documents whose ``relevance_score`` is below this (inclusive: equal is kept).
        min_entailment: Drop documents whose entailment probability is below this.
        max_contradiction: Drop documents whose contradiction probability is above this (3-label models).
        settings: NLIReranker keyword arguments (granularity, batch_size, threads, ...), JSON values only.

    Raises:
        TypeError, ValueError: A model that is not a string, a top_k below 1, a threshold outside [0, 1].
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        top_k: int | None = 10,
        score_threshold: float | None = None,
        min_entailment: float | None = None,
        max_contradiction: float | None = None,
        settings: dict[str, Any] | None = None,
    ):
        if isinstance(model, os.PathLike):
            model = os.fspath(model)
        if not isinstance(model, str):
            raise TypeError(
                f"model must be a hub id or a directory (a str, so that the pipeline can be saved), got "
                f"{type(model).__name__}"
            )
        if settings is not None and not isinstance(settings, dict):
            raise TypeError(f"settings must be a dict of NLIReranker keyword arguments, got {type(settings).__name__}")
        self.model = model
        self.top_k = check_top_k(top_k)
        self.score_threshold = check_threshold("score_threshold", score_threshold)
        self.min_entailment = check_threshold("min_entailment", min_entailment)
        self.max_contradiction = check_threshold("max_contradiction", max_contradiction)
        self.settings = dict(settings or {})
        self._reranker: Reranker | None = None

    def warm_up(self) -> None:
        """Load the model, once; ``run`` calls it when it has not been called."""
        if self._reranker is None:
            reranker = build_reranker(self.model, self.settings)
            checked_thresholds(reranker, min_entailment=self.min_entailment, max_contradiction=self.max_contradiction)
            self._reranker = reranker

    @property
    def reranker(self) -> Reranker | None:
        """The reranker once warmed up, else None."""
        return self._reranker

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self, model=self.model, top_k=self.top_k, score_threshold=self.score_threshold,
            min_entailment=self.min_entailment, max_contradiction=self.max_contradiction, settings=self.settings,
        )  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NLIRanker:
        return default_from_dict(cls, data)

    @component.output_types(documents=list[Document])
    def run(
        self,
        query: str,
        documents: list[Document],
        top_k: int | None = None,
        score_threshold: float | None = None,
        min_entailment: float | None = None,
        max_contradiction: float | None = None,
    ) -> dict[str, list[Document]]:
        """Rerank ``documents`` for ``query``; a run-time argument left None takes the value given at init.

        Raises:
            TypeError: A document that is not a Haystack Document.
            ValueError: A document without text (content None or blank), an empty query, a bad top_k or threshold.
        """
        top_k = check_top_k(self.top_k if top_k is None else top_k)
        score_threshold = check_threshold(
            "score_threshold", self.score_threshold if score_threshold is None else score_threshold
        )
        self.warm_up()
        assert self._reranker is not None  # for mypy: warm_up set it
        thresholds = checked_thresholds(
            self._reranker,
            min_entailment=self.min_entailment if min_entailment is None else min_entailment,
            max_contradiction=self.max_contradiction if max_contradiction is None else max_contradiction,
        )
        unique = _unique_by_id(documents)
        ranked = rerank_texts(self._reranker, query, [_text(document) for document in unique],
                              [document.score for document in unique], thresholds=thresholds)  # fmt: skip
        kept = [
            dataclasses.replace(document, score=metadata["relevance_score"], meta={**document.meta, **metadata})
            for document, metadata in ((unique[position], metadata) for position, metadata in ranked)
            if score_threshold is None or metadata["relevance_score"] >= score_threshold
        ]
        return {"documents": kept[:top_k]}

    @component.output_types(documents=list[Document])
    async def run_async(
        self,
        query: str,
        documents: list[Document],
        top_k: int | None = None,
        score_threshold: float | None = None,
        min_entailment: float | None = None,
        max_contradiction: float | None = None,
    ) -> dict[str, list[Document]]:
        """``run`` in a worker thread, for AsyncPipeline (the model call itself is synchronous)."""
        return await asyncio.to_thread(
            self.run, query, documents, top_k=top_k, score_threshold=score_threshold,
            min_entailment=min_entailment, max_contradiction=max_contradiction,
        )  # fmt: skip


def _unique_by_id(documents: list[Document]) -> list[Document]:
    """One document per id, in first-seen order: the one with the highest retriever score (the first on ties)."""
    best: dict[str, Document] = {}
    for position, document in enumerate(documents):
        if not isinstance(document, Document):
            raise TypeError(
                f"document at position {position} must be a Haystack Document, got {type(document).__name__}"
            )
        seen = best.get(document.id)
        if seen is None or _score(document) > _score(seen):
            best[document.id] = document
    return list(best.values())


def _score(document: Document) -> float:
    return document.score if document.score is not None and math.isfinite(document.score) else -math.inf


def _text(document: Document) -> str:
    if document.content is None:
        raise ValueError(f"document {document.id!r} has no content to rerank (content is None)")
    return document.content
