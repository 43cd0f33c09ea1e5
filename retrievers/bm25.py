"""BM25 retrieval (placeholder over rank-bm25 until the sparse engine lands)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from rerank.records import Candidate, Document, as_documents
from rerank.validation import check_positive_int, check_query

__all__ = ["BM25Retriever"]

_TOKEN = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class BM25Retriever:
    def __init__(self, documents: Sequence[Document | str], k1: float = 1.5, b: float = 0.75):
        from rank_bm25 import BM25Okapi

        self.documents = as_documents(documents)
        self.name = "bm25"
        self._bm25 = BM25Okapi([tokenize(d.content) for d in self.documents], k1=k1, b=b) if self.documents else None

    def retrieve(self, query: str, k: int = 100) -> list[Candidate]:
        check_query(query)
        check_positive_int("k", k)
        if self._bm25 is None:
            return []
        scores = self._bm25.get_scores(tokenize(query))
        order = np.argsort(-scores, kind="stable")[:k]
        return [
            Candidate(document=self.documents[i], retriever=self.name, retriever_score=float(scores[i]), retriever_rank=r)
            for r, i in enumerate(order, start=1)
        ]
