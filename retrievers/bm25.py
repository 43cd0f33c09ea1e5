"""BM25 retrieval with a fast sparse engine (default) or rank-bm25 (reference), and a safe on-disk format.

Example:
    >>> docs = ["Aspirin lowers heart attack risk.", "Statins lower cholesterol.", "Paris is in France."]
    >>> retriever = BM25Retriever(docs, show_progress=False)
    >>> [c.document.id for c in retriever.retrieve("aspirin heart", k=1)]
    ['0']
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import PlainValidator, PrivateAttr, ValidationInfo, model_validator
from tqdm.auto import tqdm

from rerank.records import Candidate, Document, as_documents
from rerank.validation import check_positive_int, check_query
from retrievers.base import check_queries, make_candidates, top_k_indices
from retrievers.bm25_rank import RankBM25
from retrievers.bm25_sparse import SparseBM25, TermCounts, bm25_idf, count_terms
from retrievers.saving import save_directory
from retrievers.settings import (
    Flag,
    NonNegative,
    NonNegativeInt,
    Settings,
    Text,
    UnitInterval,
    check_settings,
    one_of,
    read_settings,
)
from retrievers.storage import IndexFormatError, SavedDirectory, check_unique_ids, open_directory, write_documents
from retrievers.tokenize import AUTO, DEFAULT_PATTERN, Tokenizer

__all__ = ["ENGINES", "BM25Config", "BM25Retriever", "BM25Settings", "TokenizerSettings"]

logger = logging.getLogger(__name__)

ENGINES: dict[str, type[SparseBM25 | RankBM25]] = {"sparse": SparseBM25, "rank-bm25": RankBM25}


class BM25Settings(Settings):
    """The BM25 constructor's scalar arguments; a saved index's config must pass the same checks."""

    engine: Annotated[str, one_of(ENGINES, "BM25 engine")]
    k1: NonNegative
    b: UnitInterval
    epsilon: NonNegative
    name: Text


def _stopwords(value: object) -> str | tuple[str, ...] | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(word, str) for word in value):
        return tuple(value)
    raise ValueError(f"stopwords must be a list name, a list of strings or null, got {value!r}")


def _optional_text(value: object, info: ValidationInfo) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{info.field_name} must be a string or null, got {value!r}")
    return value


class TokenizerSettings(Settings):
    """A saved ``Tokenizer.to_dict()``; validating it builds the tokenizer, so its own checks apply too (an unknown
    language or stemmer, a bad pattern). An index saved before languages existed has no language: English."""

    lowercase: Flag = True
    stopwords: Annotated[str | tuple[str, ...] | None, PlainValidator(_stopwords)] = AUTO
    stemmer: Annotated[str | None, PlainValidator(_optional_text)] = AUTO
    pattern: Text = DEFAULT_PATTERN
    language: Text = "en"
    _tokenizer: Tokenizer | None = PrivateAttr(default=None)

    def _build_tokenizer(self) -> Tokenizer:
        return Tokenizer(self.lowercase, self.stopwords, self.stemmer, self.pattern, self.language)

    @model_validator(mode="after")
    def _build(self) -> TokenizerSettings:
        self._tokenizer = self._build_tokenizer()
        return self

    @property
    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:  # built by the validator; only a model_construct() copy skips it
            self._tokenizer = self._build_tokenizer()
        return self._tokenizer


class BM25Config(BM25Settings):
    """The ``config`` of a saved BM25 manifest."""

    tokenizer: TokenizerSettings
    name: Text = "bm25"
    n_documents: NonNegativeInt | None = None
    n_terms: NonNegativeInt | None = None


class BM25Retriever:
    """Okapi BM25 over a fixed corpus; scores agree with rank-bm25's ``BM25Okapi`` to float64 rounding.

    Args:
        documents: Documents or plain strings (strings get their position as id). Ids must be unique. The title
            and text are indexed together (``Document.content``).
        engine: ``"sparse"`` (default; precomputed weights in a term-major sparse matrix, milliseconds per query
            on 100k documents) or ``"rank-bm25"`` (the reference implementation, ~100x slower).
        k1, b, epsilon: BM25Okapi parameters (term-frequency saturation, length normalisation, idf floor factor).
        tokenizer: How corpus and queries are split (default: lowercase, 2+ character words, English stopwords and
            stemming); ``Tokenizer(language="fr")`` for another language, saved with the index.
        show_progress: Show a progress bar while tokenising the corpus and in ``retrieve_many``.
        name: Written to ``Candidate.retriever``.

    Example:
        >>> retriever = BM25Retriever(["a cat sat", "a dog ran", "a bird sang"], show_progress=False)
        >>> retriever.retrieve("dog", k=5)[0].document.text
        'a dog ran'
    """

    def __init__(
        self,
        documents: Sequence[Document | str] = (),
        *,
        engine: str = "sparse",
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float = 0.25,
        tokenizer: Tokenizer | None = None,
        show_progress: bool = True,
        name: str = "bm25",
    ):
        settings = check_settings(BM25Settings, engine=engine, k1=k1, b=b, epsilon=epsilon, name=name)
        if tokenizer is not None and not isinstance(tokenizer, Tokenizer):
            raise TypeError(f"tokenizer must be a retrievers.Tokenizer, got {type(tokenizer).__name__}")
        self.engine_name = settings.engine
        self.k1, self.b, self.epsilon = settings.k1, settings.b, settings.epsilon
        self.tokenizer = tokenizer or Tokenizer()
        self.show_progress = show_progress
        self.name = settings.name
        self.documents = as_documents(documents)
        check_unique_ids(self.documents)
        counts = count_terms(
            (document.content for document in self.documents),
            self.tokenizer.tokenize,
            total=len(self.documents),
            show_progress=show_progress,
        )
        self._engine = ENGINES[engine](counts, self.k1, self.b, self.epsilon)
        self._idf = bm25_idf(counts.document_frequencies, counts.n_documents, self.epsilon)
        logger.info("BM25 index: %d documents, %d terms", len(self.documents), len(counts.vocabulary))

    @property
    def counts(self) -> TermCounts:
        return self._engine.counts

    def __len__(self) -> int:
        return len(self.documents)

    def __repr__(self) -> str:
        return f"BM25Retriever({len(self.documents)} documents, engine={self.engine_name!r}, k1={self.k1}, b={self.b})"

    def _query_terms(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        vocabulary = self.counts.vocabulary
        known = [vocabulary[token] for token in self.tokenizer.tokenize(query) if token in vocabulary]
        term_ids, repeats = np.unique(np.asarray(known, dtype=np.int64), return_counts=True)
        return term_ids, repeats

    def scores(self, query: str) -> np.ndarray:
        """The BM25 score of every document (float64, in corpus order) for one query."""
        return self._engine.scores(*self._query_terms(check_query(query)))

    def _matching(self, term_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Ascending positions of the documents that contain at least one of the terms."""
        counts = self.counts
        if np.all(self._idf[term_ids] > 0):  # every posting adds a positive weight: matching <=> score > 0
            return np.flatnonzero(scores > 0)
        if len(term_ids) == 1:
            term = int(term_ids[0])
            return counts.doc_ids[counts.indptr[term] : counts.indptr[term + 1]]
        mask = np.zeros(counts.n_documents, dtype=bool)
        for term in term_ids.tolist():
            mask[counts.doc_ids[counts.indptr[term] : counts.indptr[term + 1]]] = True
        return np.flatnonzero(mask)

    def retrieve(self, query: str, k: int = 100) -> list[Candidate]:
        """The ``k`` best documents that share at least one term with the query, best first.

        Fewer than ``k`` come back when fewer documents match (none when every query token is a stopword or
        unknown to the corpus). Equal scores are ordered by corpus position.
        """
        check_query(query)
        check_positive_int("k", k)
        term_ids, repeats = self._query_terms(query)
        if len(term_ids) == 0:
            return []
        scores = self._engine.scores(term_ids, repeats)
        matching = self._matching(term_ids, scores)
        order = matching[top_k_indices(scores[matching], k)]
        return make_candidates(self.documents, order, scores[order], self.name)

    def retrieve_many(self, queries: Sequence[str], k: int = 100) -> list[list[Candidate]]:
        """``retrieve`` for each query, in order (one progress bar for the batch)."""
        queries = check_queries(queries)
        check_positive_int("k", k)
        progress = tqdm(queries, desc="BM25 retrieval", unit="query", disable=not self.show_progress)
        return [self.retrieve(query, k) for query in progress]

    def save(self, directory: str | Path) -> Path:
        """Write the index to ``directory`` (replacing a previously saved retriever there) and return its path.

        Files: documents.jsonl, vocabulary.json, indptr.npy, doc_ids.npy, counts.npy, doc_lengths.npy and
        manifest.json (parameters, tokenizer, format version, size and SHA-256 of every file), in a version
        folder that ``current.json`` names (see ``retrievers.saving``: a killed save leaves the old index).

        Raises:
            FileExistsError: ``directory`` is a file or a non-empty folder that is not a saved retriever.
        """
        counts = self.counts
        config = {
            "engine": self.engine_name,
            "k1": self.k1,
            "b": self.b,
            "epsilon": self.epsilon,
            "tokenizer": self.tokenizer.to_dict(),
            "name": self.name,
            "n_documents": len(self.documents),
            "n_terms": len(counts.vocabulary),
        }
        with save_directory(directory, "bm25", config) as staging:
            write_documents(staging / "documents.jsonl", self.documents)
            (staging / "vocabulary.json").write_text(_vocabulary_json(counts.vocabulary), encoding="utf-8")
            for field in ("indptr", "doc_ids", "counts", "doc_lengths"):
                np.save(staging / f"{field}.npy", getattr(counts, field), allow_pickle=False)
        return Path(directory)

    @classmethod
    def load(
        cls, directory: str | Path, engine: str | None = None, verify: bool = True, show_progress: bool = True
    ) -> BM25Retriever:
        """Read a retriever written by ``save``; ``engine`` overrides the saved engine.

        Raises:
            IndexFormatError: A file is missing, truncated or modified, a setting is invalid (named), or the
                directory holds another kind.
        """
        saved = open_directory(directory, "bm25", verify=verify)
        config = read_settings(BM25Config, saved.config, saved.manifest_path)
        if engine is not None:  # the override passes the constructor's check
            check_settings(
                BM25Settings, engine=engine, k1=config.k1, b=config.b, epsilon=config.epsilon, name=config.name
            )
        engine = engine or config.engine
        counts = TermCounts(
            vocabulary=_read_vocabulary(saved),
            indptr=_read_index_array(saved, "indptr.npy"),
            doc_ids=_read_index_array(saved, "doc_ids.npy"),
            counts=_read_index_array(saved, "counts.npy"),
            doc_lengths=_read_index_array(saved, "doc_lengths.npy"),
        )
        try:
            counts.validate(str(saved.directory))
        except ValueError as error:
            raise IndexFormatError(str(error)) from error
        documents = saved.documents()
        if len(documents) != counts.n_documents or config.n_documents not in (None, len(documents)):
            raise IndexFormatError(
                f"{saved.path('documents.jsonl')} has {len(documents)} documents, the index {counts.n_documents}, "
                f"the manifest {config.n_documents}; the files do not belong together"
            )
        if config.n_terms not in (None, len(counts.vocabulary)):
            raise IndexFormatError(
                f"{saved.path('vocabulary.json')} has {len(counts.vocabulary)} terms, the manifest {config.n_terms}"
            )
        retriever = cls.__new__(cls)
        retriever.engine_name = engine
        retriever.k1, retriever.b, retriever.epsilon = config.k1, config.b, config.epsilon
        retriever.tokenizer = config.tokenizer.tokenizer
        retriever.show_progress = show_progress
        retriever.name = config.name
        retriever.documents = documents
        retriever._engine = ENGINES[engine](counts, retriever.k1, retriever.b, retriever.epsilon)
        retriever._idf = bm25_idf(counts.document_frequencies, counts.n_documents, retriever.epsilon)
        return retriever


def _read_vocabulary(saved: SavedDirectory) -> dict[str, int]:
    words = saved.json("vocabulary.json")
    if not isinstance(words, list) or not all(isinstance(word, str) for word in words) or len(set(words)) != len(words):
        raise IndexFormatError(f"{saved.path('vocabulary.json')} must be a list of distinct terms (strings)")
    return {word: term for term, word in enumerate(words)}


def _read_index_array(saved: SavedDirectory, name: str) -> np.ndarray:
    array = saved.array(name)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise IndexFormatError(
            f"{saved.path(name)} must be a 1-D integer array, got {array.dtype} of shape {array.shape}"
        )
    return array


def _vocabulary_json(vocabulary: dict[str, int]) -> str:
    words = sorted(vocabulary, key=vocabulary.__getitem__)
    return json.dumps(words, ensure_ascii=False)
