"""Candidate retrievers: each has ``retrieve(query, k) -> list[Candidate]``, ``retrieve_many``, ``save`` and ``load``.

``DenseRetriever`` and ``HybridRetriever`` are imported lazily so that ``import retrievers`` stays light (no torch,
no FAISS until a dense retriever is used).
"""

from __future__ import annotations

from typing import Any

from rerank.corpus import iter_corpus, load_corpus  # one reader for retrievers, eval and the CLI
from retrievers.bm25 import BM25Retriever
from retrievers.loading import load_retriever
from retrievers.storage import IndexFormatError
from retrievers.tokenize import Tokenizer

__all__ = [
    "BM25Retriever",
    "DenseRetriever",
    "HybridRetriever",
    "IndexFormatError",
    "Tokenizer",
    "iter_corpus",
    "load_corpus",
    "load_retriever",
]


def __getattr__(name: str) -> Any:
    if name == "DenseRetriever":
        from retrievers.dense import DenseRetriever

        return DenseRetriever
    if name == "HybridRetriever":
        from retrievers.hybrid import HybridRetriever

        return HybridRetriever
    raise AttributeError(f"module 'retrievers' has no attribute {name!r}")
