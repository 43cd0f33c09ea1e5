"""FAISS vector indexes chosen by name, with parameters that adapt to the corpus size when left unset.

| name    | FAISS index                    | search            | memory / vector (d=384) | training            |
|---------|--------------------------------|-------------------|-------------------------|---------------------|
| `flat`  | IndexFlatIP                    | exact             | 1,536 bytes             | none                |
| `hnsw`  | IndexHNSWFlat (M=32)           | graph, ef_search  | ~1,800 bytes            | none                |
| `ivf`   | IndexIVFFlat (nlist lists)     | nprobe lists      | 1,536 bytes             | k-means on 1st add  |
| `ivfpq` | IndexIVFPQ (m codes x nbits)   | nprobe lists, PQ  | m bytes (48 for d=384)  | k-means on 1st add  |

All use inner product; on normalised vectors that is cosine similarity. IVF indexes are trained on the vectors of
the first ``add`` call: make it a representative sample (at least 39 x nlist vectors for good lists).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["INDEX_PARAMETERS", "FaissIndex"]

logger = logging.getLogger(__name__)

INDEX_PARAMETERS: dict[str, dict[str, Any]] = {
    "flat": {},
    "hnsw": {"m": 32, "ef_construction": 200, "ef_search": 128},
    "ivf": {"nlist": None, "nprobe": None},
    "ivfpq": {"nlist": None, "nprobe": None, "m": None, "nbits": None},
}

MAX_TRAINING_VECTORS = 256 * 1024


def _faiss():
    try:
        import faiss
    except ImportError as error:
        raise ImportError("dense retrieval needs FAISS; install it with: pip install faiss-cpu") from error
    return faiss


def _check_params(kind: str, params: dict[str, Any] | None) -> dict[str, Any]:
    if kind not in INDEX_PARAMETERS:
        raise ValueError(f"unknown index type {kind!r}; expected one of {sorted(INDEX_PARAMETERS)}")
    resolved = dict(INDEX_PARAMETERS[kind])
    for key, value in (params or {}).items():
        if key not in resolved:
            raise ValueError(f"unknown parameter {key!r} for a {kind!r} index; expected one of {sorted(resolved)}")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"index parameter {key} must be a positive int or None, got {value!r}")
        resolved[key] = value
    return resolved


def _default_nlist(n: int) -> int:
    """About 4 sqrt(n) lists, but no more than n / 39 so each list gets enough training points."""
    return max(1, min(round(4 * math.sqrt(n)), n // 39))


def _default_pq_m(dimension: int) -> int:
    """The largest divisor of the dimension that is at most dimension / 8 (sub-vectors of 8+ dimensions)."""
    return max(m for m in range(1, max(1, dimension // 8) + 1) if dimension % m == 0)


class FaissIndex:
    """A named FAISS index over float32 vectors; positions in the index are document positions.

    Args:
        kind: ``flat``, ``hnsw``, ``ivf`` or ``ivfpq``.
        dimension: Vector size.
        params: Overrides of ``INDEX_PARAMETERS[kind]``; None values are chosen from the first batch's size.
    """

    def __init__(self, kind: str, dimension: int, params: dict[str, Any] | None = None):
        self.kind = kind
        self.dimension = dimension
        self.params = _check_params(kind, params)
        self.index: Any = None if kind in ("ivf", "ivfpq") else self._untrained(0)  # IVF indexes are built when trained

    @property
    def ntotal(self) -> int:
        return 0 if self.index is None else int(self.index.ntotal)

    def _untrained(self, n: int):
        faiss = _faiss()
        d, p = self.dimension, self.params
        if self.kind == "flat":
            return faiss.IndexFlatIP(d)
        if self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, p["m"], faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = p["ef_construction"]
            return index
        p["nlist"] = p["nlist"] or _default_nlist(n)
        p["nprobe"] = min(p["nprobe"] or max(8, p["nlist"] // 16), p["nlist"])
        quantizer = faiss.IndexFlatIP(d)
        if self.kind == "ivf":
            return faiss.IndexIVFFlat(quantizer, d, p["nlist"], faiss.METRIC_INNER_PRODUCT)
        p["m"] = p["m"] or _default_pq_m(d)
        if d % p["m"]:
            raise ValueError(f"ivfpq parameter m={p['m']} must divide the vector dimension {d}")
        p["nbits"] = p["nbits"] or max(1, min(8, int(math.log2(max(n, 2) / 39)) if n >= 78 else 1))
        return faiss.IndexIVFPQ(quantizer, d, p["nlist"], p["m"], p["nbits"], faiss.METRIC_INNER_PRODUCT)

    def add(self, vectors: np.ndarray) -> None:
        """Append vectors (shape (n, dimension)); IVF indexes are built and trained on the first call."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"expected vectors of shape (n, {self.dimension}), got {vectors.shape}")
        if len(vectors) == 0:
            return
        if self.index is None:
            self.index = self._untrained(len(vectors))
            sample = vectors
            if len(vectors) > MAX_TRAINING_VECTORS:
                rows = np.random.default_rng(0).choice(len(vectors), MAX_TRAINING_VECTORS, replace=False)
                sample = vectors[np.sort(rows)]
            logger.info("training a %s index on %d vectors (%s)", self.kind, len(sample), self.params)
            self.index.train(sample)
        self.index.add(vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and positions, shape (n_queries, min(k, ntotal)); missing hits have position -1."""
        k = min(k, self.ntotal)
        if k == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        if self.kind == "hnsw":
            self.index.hnsw.efSearch = max(self.params["ef_search"], k)
        elif self.kind in ("ivf", "ivfpq"):
            self.index.nprobe = self.params["nprobe"]
        return self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def write(self, path: Path) -> None:
        if self.index is not None:
            _faiss().write_index(self.index, str(path))

    @classmethod
    def read(cls, path: Path | None, kind: str, dimension: int, params: dict[str, Any]) -> FaissIndex:
        """Read an index written by ``write`` (``path`` None: nothing was written, the index is still untrained)."""
        index = cls(kind, dimension, params)
        if path is not None:
            try:
                index.index = _faiss().read_index(str(path))
            except RuntimeError as error:
                raise ValueError(f"{path} is not a readable FAISS index ({str(error).splitlines()[0]})") from error
            if index.index.d != dimension:
                raise ValueError(f"{path} holds {index.index.d}-dimensional vectors, the manifest says {dimension}")
        return index
