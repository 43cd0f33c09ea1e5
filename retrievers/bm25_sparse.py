"""The default BM25 engine: a term-major sparse matrix of precomputed float64 BM25 weights.

Scores are exactly rank-bm25's ``BM25Okapi`` (same k1, b, epsilon idf floor and (k1 + 1) factor)::

    idf(t)      = ln(N - df(t) + 0.5) - ln(df(t) + 0.5);  negative values are replaced by epsilon x mean idf
    w(t, d)     = idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))
    score(q, d) = sum over query tokens t (repeats counted) of w(t, d)

Every (term, document) weight is computed once at indexing time, so a query only adds up the posting lists of
its terms: O(sum of their document frequencies) instead of rank-bm25's O(N x query length) Python loop.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

__all__ = ["SparseBM25", "TermCounts", "bm25_idf", "count_terms"]


@dataclass(frozen=True)
class TermCounts:
    """Term frequencies of a tokenised corpus, term-major (CSR with terms as rows, documents as columns).

    Attributes:
        vocabulary: Token -> term id, in order of first appearance.
        indptr: (V + 1,) int64; the postings of term t are positions indptr[t]:indptr[t + 1].
        doc_ids: (nnz,) int32 document index of each posting, ascending within a term.
        counts: (nnz,) int32 term frequency of each posting.
        doc_lengths: (N,) int64 number of tokens of each document.
    """

    vocabulary: dict[str, int]
    indptr: np.ndarray
    doc_ids: np.ndarray
    counts: np.ndarray
    doc_lengths: np.ndarray

    @property
    def n_documents(self) -> int:
        return len(self.doc_lengths)

    @property
    def document_frequencies(self) -> np.ndarray:
        return np.diff(self.indptr)

    def validate(self, where: str) -> None:
        """Raise ValueError (naming ``where``) when the arrays are inconsistent with each other."""
        n_terms, nnz = len(self.vocabulary), len(self.doc_ids)
        problems = []
        if self.indptr.shape != (n_terms + 1,) or self.indptr[0] != 0:
            problems.append(f"indptr has shape {self.indptr.shape}, expected ({n_terms + 1},) starting at 0")
        elif self.indptr[-1] != nnz or np.any(np.diff(self.indptr) < 0):
            problems.append("indptr is not a non-decreasing offset array ending at the number of postings")
        if self.doc_ids.ndim != 1 or self.counts.shape != (nnz,):
            problems.append(f"counts has {len(self.counts)} entries for {nnz} postings")
        if nnz and (self.doc_ids.min() < 0 or self.doc_ids.max() >= self.n_documents):
            problems.append(f"document ids out of range for {self.n_documents} documents")
        if nnz and self.counts.min() < 1:
            problems.append("term counts must be >= 1")
        if problems:
            raise ValueError(f"{where}: inconsistent BM25 index: {'; '.join(problems)}")


def count_terms(
    texts: Iterable[str], tokenize: Callable[[str], list[str]], total: int | None = None, show_progress: bool = True
) -> TermCounts:
    """Tokenise every text and count term frequencies (memory: ~16 bytes per token while counting)."""
    vocabulary: dict[str, int] = {}
    assign = vocabulary.setdefault
    term_ids = array("i")
    lengths = array("q")
    for text in tqdm(texts, total=total, desc="BM25 tokenising", unit="doc", disable=not show_progress):
        tokens = tokenize(text)
        term_ids.extend([assign(token, len(vocabulary)) for token in tokens])
        lengths.append(len(tokens))
    doc_lengths = np.frombuffer(lengths, dtype=np.int64).copy() if lengths else np.zeros(0, dtype=np.int64)
    n_docs, n_terms = len(doc_lengths), len(vocabulary)
    terms = np.frombuffer(term_ids, dtype=np.int32) if term_ids else np.zeros(0, dtype=np.int32)
    docs = np.repeat(np.arange(n_docs, dtype=np.int64), doc_lengths)
    keys, counts = np.unique(terms.astype(np.int64) * max(n_docs, 1) + docs, return_counts=True)
    del terms, docs
    posting_terms = keys // max(n_docs, 1)
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(np.bincount(posting_terms, minlength=n_terms), out=indptr[1:])
    return TermCounts(
        vocabulary=vocabulary,
        indptr=indptr,
        doc_ids=(keys % max(n_docs, 1)).astype(np.int32),
        counts=counts.astype(np.int32),
        doc_lengths=doc_lengths,
    )


def bm25_idf(document_frequencies: np.ndarray, n_documents: int, epsilon: float) -> np.ndarray:
    """BM25Okapi idf with rank-bm25's floor: negative values become ``epsilon`` x the mean (unfloored) idf."""
    df = document_frequencies.astype(np.float64)
    idf = np.log(n_documents - df + 0.5) - np.log(df + 0.5)
    if len(idf):
        floor = epsilon * (idf.sum() / len(idf))
        idf[idf < 0] = floor
    return idf


class SparseBM25:
    """Float64 BM25Okapi over precomputed (term, document) weights; ``scores`` returns one value per document."""

    name = "sparse"

    def __init__(self, counts: TermCounts, k1: float, b: float, epsilon: float):
        self.counts = counts
        n_docs = counts.n_documents
        self.avgdl = float(counts.doc_lengths.sum() / n_docs) if n_docs else 0.0
        self.idf = bm25_idf(counts.document_frequencies, n_docs, epsilon)
        tf = counts.counts.astype(np.float64)
        if len(tf):
            term_of_posting = np.repeat(np.arange(len(self.idf)), counts.document_frequencies)
            length_norm = k1 * (1 - b + b * counts.doc_lengths[counts.doc_ids] / self.avgdl)
            self.weights = self.idf[term_of_posting] * (tf * (k1 + 1) / (tf + length_norm))
        else:
            self.weights = np.zeros(0, dtype=np.float64)

    def scores(self, term_ids: np.ndarray, repeats: np.ndarray) -> np.ndarray:
        """BM25 score of every document for a query given as distinct known term ids and their repeat counts."""
        scores = np.zeros(self.counts.n_documents, dtype=np.float64)
        indptr, doc_ids = self.counts.indptr, self.counts.doc_ids
        for term, repeat in zip(term_ids.tolist(), repeats.tolist(), strict=True):
            start, end = indptr[term], indptr[term + 1]
            weights = self.weights[start:end]
            scores[doc_ids[start:end]] += weights if repeat == 1 else weights * repeat
        return scores
