"""NLI reranking for retrieval pipelines.

``import rerank`` is cheap: torch and the backends load only when a reranker is built.

Example:
    >>> from rerank import NLIReranker, Document
    >>> reranker = NLIReranker("cross-encoder/nli-deberta-v3-small")  # doctest: +SKIP
    >>> reranker.rerank("Aspirin prevents heart attacks.", [Document(id="a", text="...")])  # doctest: +SKIP
"""

from __future__ import annotations

from rerank.errors import MissingDependencyError, ModelLoadError
from rerank.nli_reranker import DEFAULT_MODEL, NLIReranker
from rerank.pipeline import Pipeline, Retriever
from rerank.records import (
    Candidate,
    Document,
    Evidence,
    NLIScores,
    RelevanceResult,
    RerankResult,
    SourceScore,
    as_candidates,
    as_documents,
)
from rerank.relevance_reranker import RelevanceReranker

__all__ = [
    "DEFAULT_MODEL",
    "Candidate",
    "Document",
    "Evidence",
    "MissingDependencyError",
    "ModelLoadError",
    "NLIReranker",
    "NLIScores",
    "Pipeline",
    "RelevanceReranker",
    "RelevanceResult",
    "RerankResult",
    "Retriever",
    "SourceScore",
    "as_candidates",
    "as_documents",
]
__version__ = "0.1.0"
