"""The reference BM25 engine: rank-bm25's ``BM25Okapi`` over the same tokens (slow: a Python loop per query term)."""

from __future__ import annotations

import numpy as np

from retrievers.bm25_sparse import TermCounts

__all__ = ["RankBM25"]


class RankBM25:
    """rank_bm25.BM25Okapi built from term ids; kept for comparison and as a parity reference."""

    name = "rank-bm25"

    def __init__(self, counts: TermCounts, k1: float, b: float, epsilon: float):
        from rank_bm25 import BM25Okapi

        self.counts = counts
        n_docs = counts.n_documents
        if n_docs == 0:
            self._bm25 = None
            return
        # Document-major view of the term-major postings: each document's term ids, repeated tf times.
        order = np.argsort(counts.doc_ids, kind="stable")
        terms = np.repeat(np.arange(len(counts.vocabulary)), counts.document_frequencies)[order]
        tokens = np.repeat(terms, counts.counts[order])
        bounds = np.concatenate([[0], np.cumsum(counts.doc_lengths)])
        corpus = [tokens[bounds[i] : bounds[i + 1]].tolist() for i in range(n_docs)]
        if bounds[-1] == 0:  # rank-bm25 divides by the mean length; a corpus with no tokens scores zero
            self._bm25 = None
            return
        self._bm25 = BM25Okapi(corpus, k1=k1, b=b, epsilon=epsilon)

    def scores(self, term_ids: np.ndarray, repeats: np.ndarray) -> np.ndarray:
        if self._bm25 is None:
            return np.zeros(self.counts.n_documents, dtype=np.float64)
        query = np.repeat(term_ids, repeats).tolist()
        return np.asarray(self._bm25.get_scores(query), dtype=np.float64)
