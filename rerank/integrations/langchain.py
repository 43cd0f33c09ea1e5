"""LangChain: ``NLIRerankCompressor``, a ``BaseDocumentCompressor`` that reranks and filters retrieved documents.

Use it alone (``compress_documents``, or ``acompress_documents``, which LangChain runs in a thread) or as the
``base_compressor`` of a ``ContextualCompressionRetriever`` (from ``langchain-classic``). Needs
``pip install 'nli-rerank[langchain]'``.

Example:
    >>> from rerank.integrations.langchain import NLIRerankCompressor
    >>> compressor = NLIRerankCompressor(model="cross-encoder/nli-deberta-v3-small", top_n=3)  # doctest: +SKIP
    >>> kept = compressor.compress_documents(documents, "Aspirin prevents heart attacks.")  # doctest: +SKIP
    >>> kept[0].metadata["relevance_score"], kept[0].metadata["entailment"]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ConfigDict, Field, PrivateAttr, model_validator

from rerank.contract import Reranker
from rerank.errors import MissingDependencyError
from rerank.integrations._shared import build_reranker, checked_thresholds, rerank_texts

try:
    from langchain_core.callbacks import Callbacks
    from langchain_core.documents import BaseDocumentCompressor, Document
except ImportError as error:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        "rerank.integrations.langchain needs langchain-core; install it with: pip install 'nli-rerank[langchain]'"
    ) from error

__all__ = ["NLIRerankCompressor"]


class NLIRerankCompressor(BaseDocumentCompressor):
    """Rerank LangChain documents with an NLI (or relevance) cross-encoder; keep the best ``top_n``.

    Returns copies of the kept documents, best first, each with ``metadata["relevance_score"]`` (in [0, 1]: the
    probability the order is based on, entailment by default), ``entailment`` / ``neutral`` / ``contradiction``
    and, at sentence or window granularity, ``evidence`` ({text, span, sentence, entailment}). LangChain documents
    carry no retriever score, so the reranker's fusion has nothing to fuse and the order is ``relevance_score``'s.
    Documents that fail a threshold are dropped. The caller's documents are never changed.

    Args:
        model: Hub id or directory of an NLI model (rerank.DEFAULT_MODEL when None), a model loaded with
            ``rerank.load_model``, or an already built reranker (NLIReranker, RelevanceReranker, any
            ``rerank.Reranker``) to share one loaded model.
        settings: NLIReranker keyword arguments (granularity, batch_size, ...) when ``model`` is an id or path.
        top_n: How many documents to return at most (None: every kept one).
        min_entailment: Drop documents whose entailment probability is below this.
        max_contradiction: Drop documents whose contradiction probability is above this (3-label models).
        min_score: Drop documents below this relevance probability (relevance rerankers only).

    Raises:
        ValueError: A threshold the reranker does not accept or outside [0, 1]; top_n below 1; an unknown field.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    model: Any = Field(default=None, description="hub id, directory, loaded model or built reranker")
    settings: dict[str, Any] = Field(default_factory=dict, description="NLIReranker keyword arguments")
    top_n: int | None = Field(default=3, ge=1, description="documents returned at most; None for all kept")
    min_entailment: float | None = Field(default=None, ge=0.0, le=1.0)
    max_contradiction: float | None = Field(default=None, ge=0.0, le=1.0)
    min_score: float | None = Field(default=None, ge=0.0, le=1.0)

    _reranker: Reranker = PrivateAttr()

    @model_validator(mode="after")
    def _build_reranker(self) -> NLIRerankCompressor:
        self._reranker = build_reranker(self.model, self.settings)
        self._thresholds()
        return self

    @property
    def reranker(self) -> Reranker:
        """The reranker this compressor runs (built once, at construction)."""
        return self._reranker

    def _thresholds(self) -> dict[str, float]:
        given = {"min_entailment": self.min_entailment, "max_contradiction": self.max_contradiction,
                 "min_score": self.min_score}  # fmt: skip
        return checked_thresholds(self._reranker, **given)

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """The kept documents, best first, cut to ``top_n``, as copies with the scores in their metadata.

        Raises:
            TypeError: A document that is not a LangChain Document.
            ValueError: An empty query or a document without text.
        """
        for position, document in enumerate(documents):
            if not isinstance(document, Document):
                raise TypeError(
                    f"document at position {position} must be a langchain_core Document, got {type(document).__name__}"
                )
        ranked = rerank_texts(self._reranker, query, [document.page_content for document in documents],
                              top_k=self.top_n, thresholds=self._thresholds())  # fmt: skip
        return [
            documents[position].model_copy(update={"metadata": {**documents[position].metadata, **metadata}})
            for position, metadata in ranked
        ]
