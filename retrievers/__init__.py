"""Candidate retrievers: each has ``retrieve(query, k) -> list[Candidate]``."""

from __future__ import annotations

from retrievers.bm25 import BM25Retriever
from retrievers.corpus import iter_corpus, load_corpus

__all__ = ["BM25Retriever", "iter_corpus", "load_corpus"]
