"""NLI reranking for retrieval pipelines.

``import rerank`` is cheap: torch and the backends load only when a reranker is built.

Example:
    >>> from rerank import NLIReranker, Document
    >>> reranker = NLIReranker("cross-encoder/nli-deberta-v3-small")  # doctest: +SKIP
    >>> reranker.rerank("Aspirin prevents heart attacks.", [Document(id="a", text="...")])  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from rerank.answers import RankedAnswer, rank_answers
from rerank.classify import Classification, classify
from rerank.contract import Reranker
from rerank.errors import MissingDependencyError, ModelLoadError
from rerank.groundedness import Groundedness, SentenceCheck, groundedness, groundedness_many
from rerank.nli_reranker import DEFAULT_MODEL, NLIReranker
from rerank.options import ModelOptions
from rerank.pipeline import Pipeline, Retriever
from rerank.records import (
    Candidate,
    Document,
    Evidence,
    NLIScores,
    RankedResult,
    RelevanceResult,
    RerankResult,
    SourceScore,
    as_candidates,
    as_documents,
)
from rerank.relevance_reranker import RelevanceReranker
from rerank.verify import EvidenceItem, Verdict, verify, verify_many

__all__ = [
    "DEFAULT_MODEL",
    "Candidate",
    "Classification",
    "Document",
    "Evidence",
    "EvidenceItem",
    "Groundedness",
    "MissingDependencyError",
    "ModelLoadError",
    "ModelOptions",
    "NLIReranker",
    "NLIScores",
    "Pipeline",
    "RankedAnswer",
    "RankedResult",
    "RelevanceReranker",
    "RelevanceResult",
    "RerankResult",
    "Reranker",
    "Retriever",
    "SentenceCheck",
    "SourceScore",
    "Verdict",
    "as_candidates",
    "as_documents",
    "classify",
    "groundedness",
    "groundedness_many",
    "load_model",
    "rank_answers",
    "verify",
    "verify_many",
]
__version__ = "0.2.0"


def __getattr__(name: str) -> Any:
    if name == "load_model":  # the loader imports the export machinery's entry points: keep it off `import rerank`
        from rerank.loading import load_model

        return load_model
    raise AttributeError(f"module 'rerank' has no attribute {name!r}")
