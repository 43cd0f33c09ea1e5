"""An in-memory LRU cache of cross-encoder logits, so a pair scored once is never run through the model again.

Entries are keyed by (scorer fingerprint, pair order, premise, hypothesis), where the scorer fingerprint
(``CrossEncoderScorer.fingerprint``) covers the weights, backend, precision and max_length: the same text under
another model, backend, precision or truncation length is a different entry. Keys are stored as
a SHA-256 digest, so a long passage costs 32 bytes of key, and the cache is bounded by its number of entries.

Example:
    >>> from rerank.cache import ScoreCache
    >>> cache = ScoreCache(max_entries=10_000)
    >>> reranker = NLIReranker("path/to/nli-model", cache=cache)  # doctest: +SKIP
    >>> reranker.rerank(claim, passages); reranker.rerank(claim, passages)  # doctest: +SKIP
    >>> cache.hits, cache.misses  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

__all__ = ["ScoreCache"]


class ScoreCache:
    """Least-recently-used cache of per-pair logits with hit and miss counters.

    A cached row is the exact float32 logit row computed the first time, so a cached call returns exactly what the
    uncached call that filled it returned. Safe to share between rerankers and threads.

    Args:
        max_entries: Most pairs kept; the least recently used are evicted beyond it.

    Attributes:
        hits: Pairs answered from the cache so far.
        misses: Pairs that had to be scored.
    """

    def __init__(self, max_entries: int = 100_000):
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be a positive int, got {max_entries!r}")
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._rows: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"ScoreCache(max_entries={self.max_entries}, size={len(self)}, hits={self.hits}, misses={self.misses})"

    @staticmethod
    def key(fingerprint: str, order: str, premise: str, hypothesis: str) -> bytes:
        """The digest identifying one pair under one scorer configuration (``order`` is how the pair is fed)."""
        digest = hashlib.sha256()
        for part in (fingerprint, order, premise, hypothesis):
            encoded = part.encode("utf-8", "surrogatepass")
            digest.update(len(encoded).to_bytes(8, "little"))
            digest.update(encoded)
        return digest.digest()

    def get_many(self, keys: Sequence[bytes]) -> list[np.ndarray | None]:
        """The cached rows for ``keys`` (None where absent), counting hits and misses and refreshing recency."""
        found: list[np.ndarray | None] = []
        with self._lock:
            for key in keys:
                row = self._rows.get(key)
                if row is not None:
                    self._rows.move_to_end(key)
                    self.hits += 1
                else:
                    self.misses += 1
                found.append(row)
        return found

    def put_many(self, keys: Sequence[bytes], rows: np.ndarray) -> None:
        """Store one logit row per key (copied, read-only), evicting the least recently used beyond max_entries."""
        if len(keys) != len(rows):
            raise ValueError(f"got {len(keys)} keys but {len(rows)} rows")
        with self._lock:
            for key, row in zip(keys, rows, strict=True):
                stored = np.array(row, dtype=np.float32, copy=True)
                stored.flags.writeable = False
                self._rows[key] = stored
                self._rows.move_to_end(key)
            while len(self._rows) > self.max_entries:
                self._rows.popitem(last=False)

    def clear(self) -> None:
        """Drop every entry and reset the counters."""
        with self._lock:
            self._rows.clear()
            self.hits = self.misses = 0

    def stats(self) -> dict[str, float]:
        """hits, misses, hit_rate, size and max_entries."""
        total = self.hits + self.misses
        return {"hits": self.hits, "misses": self.misses, "hit_rate": self.hits / total if total else 0.0,
                "size": len(self), "max_entries": self.max_entries}  # fmt: skip
