"""An on-disk store of reranker scores, so reruns, weight sweeps and threshold sweeps never call the model twice.

Entries are keyed by the reranker's public ``fingerprint`` (``rerank.Reranker``: weights, backend, precision,
max length, labels, granularity, title handling, template, calibration) and the (query, document) pair; each entry
also records the model time it cost when it was computed and how many model pairs it took (the reranker's
``segments`` per document), so latency and pairs-per-second can be reported on a rerun that is served entirely from
the store. Storage is one SQLite file (standard library, safe for concurrent readers). ``ScoreStore`` was called
``ScoreCache`` before 0.2.0; that name still imports, with a DeprecationWarning, until 0.3.0 (see CHANGELOG.md).
The in-memory logit cache of the rerankers is ``rerank.cache.ScoreCache``.

Example:
    >>> scorer = CachedScorer(NLIReranker("path/to/model"), ".cache/scores.sqlite")  # doctest: +SKIP
    >>> scores, seconds, pairs = scorer.score_timed("Aspirin prevents strokes.", documents)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rerank.records import Document, as_documents

__all__ = ["CachedScorer", "ScoreCache", "ScoreStore", "model_pairs", "scorer_fingerprint"]

_COLUMNS = ["key", "value", "seconds", "pairs"]


class ScoreStore:
    """A SQLite table ``key -> (scores as JSON, model seconds, model pairs)``.

    Args:
        path: The database file; it and its folder are created when missing. An existing file must be a score
            store written by this class: any other file (another database, a text file, a folder) is refused with
            ValueError and left untouched.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(
                f"score cache {self.path} is a directory; give a file path such as {self.path}/scores.sqlite"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connection = sqlite3.connect(self.path)
            self._check_or_create()
        except sqlite3.DatabaseError as error:
            if hasattr(self, "_connection"):
                self._connection.close()
            raise ValueError(
                f"{self.path} is not a score cache this project can use ({error}); point --cache at a new file"
            ) from None

    def _check_or_create(self) -> None:
        tables = [row[0] for row in self._connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        if not tables:
            self._connection.execute(
                "CREATE TABLE scores (key TEXT PRIMARY KEY, value TEXT NOT NULL, seconds REAL NOT NULL, "
                "pairs INTEGER NOT NULL)"
            )
            self._connection.commit()
            return
        columns = [row[1] for row in self._connection.execute("PRAGMA table_info(scores)")]
        if tables != ["scores"] or columns != _COLUMNS:
            raise sqlite3.DatabaseError(f"it holds other tables ({', '.join(sorted(tables))})")

    def get_many(self, keys: Sequence[str]) -> dict[str, tuple[Any, float, int]]:
        """Stored (value, seconds, pairs) for the keys present; absent keys are left out."""
        found: dict[str, tuple[Any, float, int]] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._connection.execute(
                f"SELECT key, value, seconds, pairs FROM scores WHERE key IN ({marks})", chunk
            )
            for key, value, seconds, pairs in rows:
                found[key] = (json.loads(value), seconds, pairs)
        return found

    def put_many(self, entries: Sequence[tuple[str, Any, float, int]]) -> None:
        """Store (key, JSON-serialisable value, seconds, pairs) entries, replacing existing keys (one transaction)."""
        with self._connection:
            self._connection.executemany(
                "INSERT OR REPLACE INTO scores (key, value, seconds, pairs) VALUES (?, ?, ?, ?)",
                [(key, json.dumps(value), float(seconds), int(pairs)) for key, value, seconds, pairs in entries],
            )

    def __len__(self) -> int:
        return int(self._connection.execute("SELECT COUNT(*) FROM scores").fetchone()[0])

    def close(self) -> None:
        self._connection.close()


class ScoreCache(ScoreStore):
    """Deprecated name of ScoreStore (until 0.3.0); ``rerank.cache.ScoreCache`` is the in-memory logit cache."""

    def __init__(self, path: str | Path):
        warnings.warn(
            "eval.ScoreCache is now eval.ScoreStore (the old name goes in 0.3.0; rerank.cache.ScoreCache is the "
            "in-memory logit cache)",
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__(path)


def scorer_fingerprint(reranker: Any) -> str:
    """The reranker's public ``fingerprint`` (``rerank.Reranker``): every setting that changes its scores.

    Raises:
        TypeError: The object has no ``fingerprint`` string (pass ``fingerprint=`` to CachedScorer instead).
    """
    value = getattr(reranker, "fingerprint", None)
    if not isinstance(value, str):
        raise TypeError(
            f"cannot fingerprint a {type(reranker).__name__}: it has no fingerprint (see rerank.Reranker); "
            "pass fingerprint='...'"
        )
    return value


def model_pairs(reranker: Any, document: Document) -> int:
    """Model pairs one document costs: the reranker's ``pair_count`` (NLIReranker: its pre-selected segments, twice
    for direction "both"), else the number of its ``segments`` for a rerank.Reranker, else 1."""
    pair_count = getattr(reranker, "pair_count", None)
    if callable(pair_count):
        return max(1, int(pair_count(document)))
    segments = getattr(reranker, "segments", None)
    return max(1, len(segments(document))) if callable(segments) else 1


def _pair_key(fingerprint: str, query: str, document: Document) -> str:
    sentences = document.metadata.get("sentences")
    payload = json.dumps([fingerprint, query, document.content, sentences if isinstance(sentences, list) else None])
    return hashlib.sha256(payload.encode()).hexdigest()


class CachedScorer:
    """Wrap a reranker's ``score(query, documents)`` (and ``score_pairs`` when it has one) with a ScoreStore.

    Args:
        reranker: A ``rerank.Reranker`` or any object with ``score(query, documents) -> np.ndarray``.
        cache: A ScoreStore or the path of its SQLite file.
        fingerprint: Cache namespace; by default derived from the reranker with ``scorer_fingerprint``.

    Attributes:
        hits / misses: Documents served from the cache / sent to the model so far.
    """

    def __init__(self, reranker: Any, cache: ScoreStore | str | Path, fingerprint: str | None = None):
        if not callable(getattr(reranker, "score", None)):
            raise TypeError(f"reranker must have a score(query, documents) method, got {type(reranker).__name__}")
        self.reranker = reranker
        self.cache = cache if isinstance(cache, ScoreStore) else ScoreStore(cache)
        self.fingerprint = fingerprint or scorer_fingerprint(reranker)
        self.hits = 0
        self.misses = 0

    def score(self, query: str, documents: Sequence[Document | str]) -> np.ndarray:
        """The wrapped reranker's scores, in input order, computing only the pairs not yet cached."""
        return self.score_timed(query, documents)[0]

    def score_timed(self, query: str, documents: Sequence[Document | str]) -> tuple[np.ndarray, float, int]:
        """(scores, model seconds, model pairs) for one query; seconds and pairs are those recorded when each score
        was first computed, so a cached rerun reports the same cost as the run that filled the cache."""
        documents = as_documents(documents)
        if not documents:
            return np.asarray(self.reranker.score(query, [])), 0.0, 0
        keys = [_pair_key(self.fingerprint, query, document) for document in documents]
        found = self.cache.get_many(keys)
        missing = [i for i, key in enumerate(keys) if key not in found]
        self.hits += len(documents) - len(missing)
        self.misses += len(missing)
        if missing:
            pairs = [model_pairs(self.reranker, documents[i]) for i in missing]
            start = time.perf_counter()
            computed = np.asarray(self.reranker.score(query, [documents[i] for i in missing]), dtype=np.float64)
            per_pair = (time.perf_counter() - start) / sum(pairs)
            entries = [(keys[i], computed[j].tolist(), per_pair * pairs[j], pairs[j]) for j, i in enumerate(missing)]
            self.cache.put_many(entries)
            found.update({key: (value, seconds, n) for key, value, seconds, n in entries})
        rows = [found[key] for key in keys]
        scores = np.asarray([row[0] for row in rows], dtype=np.float64)
        return scores, float(sum(row[1] for row in rows)), int(sum(row[2] for row in rows))

    def score_pairs(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        """The wrapped reranker's ``score_pairs`` (explicit premise/hypothesis pairs), cached pair by pair."""
        return self.score_pairs_timed(premises, hypotheses)[0]

    def score_pairs_timed(self, premises: Sequence[str], hypotheses: Sequence[str]) -> tuple[np.ndarray, float, int]:
        """(scores, model seconds, pairs) for explicit pairs; seconds as recorded when each pair was first scored."""
        if not callable(getattr(self.reranker, "score_pairs", None)):
            raise TypeError(f"{type(self.reranker).__name__} has no score_pairs method")
        if len(premises) != len(hypotheses):
            raise ValueError(f"got {len(premises)} premises but {len(hypotheses)} hypotheses")
        keys = [
            hashlib.sha256(json.dumps([self.fingerprint, "pair", p, h]).encode()).hexdigest()
            for p, h in zip(premises, hypotheses, strict=True)
        ]
        found = self.cache.get_many(keys)
        first_index: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key not in found:
                first_index.setdefault(key, i)
        chosen = list(first_index.values())
        self.hits += len(keys) - len(chosen)
        self.misses += len(chosen)
        if chosen:
            start = time.perf_counter()
            computed = np.asarray(
                self.reranker.score_pairs([premises[i] for i in chosen], [hypotheses[i] for i in chosen]),
                dtype=np.float64,
            )
            per_pair = (time.perf_counter() - start) / len(chosen)
            entries = [(keys[i], computed[j].tolist(), per_pair, 1) for j, i in enumerate(chosen)]
            self.cache.put_many(entries)
            found.update({key: (value, seconds, n) for key, value, seconds, n in entries})
        if not keys:
            return np.empty((0, 3)), 0.0, 0
        scores = np.asarray([found[key][0] for key in keys], dtype=np.float64)
        return scores, float(sum(found[key][1] for key in keys)), len(keys)
