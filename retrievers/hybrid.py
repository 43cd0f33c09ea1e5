"""Hybrid retrieval: fuse the ranked lists of several retrievers (e.g. BM25 + dense) into one.

Two fusions, each candidate keeping every source's own score and rank in ``Candidate.sources``:

- ``rrf`` (reciprocal rank fusion, Cormack et al. 2009): ``score(d) = sum_s w_s / (rrf_k + rank_s(d))``,
  with ``rrf_k = 60``; a source that did not return d contributes nothing. Scores' scales never matter.
- ``weighted``: ``score(d) = sum_s w_s * norm_s(score_s(d))`` where ``norm_s`` is min-max (to [0, 1]) or z-score
  normalisation over source s's list for this query; a source that did not return d counts its lowest value.

Example:
    >>> hybrid = HybridRetriever([bm25, dense], fusion="rrf")  # doctest: +SKIP
    >>> top = hybrid.retrieve("aspirin and stroke", k=10)[0]  # doctest: +SKIP
    >>> top.sources["bm25"].rank, top.sources["dense"].rank  # doctest: +SKIP
    (1, 3)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import model_validator

from rerank.fusion import zscore
from rerank.records import Candidate, SourceScore
from rerank.validation import check_positive_int, check_query
from retrievers.base import check_queries
from retrievers.saving import save_directory
from retrievers.settings import (
    NonNegative,
    PositiveInt,
    RelativePath,
    Settings,
    Text,
    check_settings,
    one_of,
    read_settings,
)
from retrievers.storage import IndexFormatError, open_directory

__all__ = ["FUSIONS", "NORMALIZATIONS", "HybridConfig", "HybridRetriever", "HybridSettings", "minmax", "zscore"]


def minmax(scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """(s - min) / (max - min); all ones when every score is equal."""
    values = np.asarray(scores, dtype=np.float64)
    spread = values.max() - values.min()
    return np.ones_like(values) if spread == 0 else (values - values.min()) / spread


# zscore is rerank.fusion's: (s - mean) / std, all zeros when every score is equal.
NORMALIZATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"minmax": minmax, "zscore": zscore}
FUSIONS = ("rrf", "weighted")


class HybridSettings(Settings):
    """The hybrid constructor's scalar arguments; a saved hybrid's config must pass the same checks."""

    fusion: Annotated[str, one_of(FUSIONS, "fusion")]
    normalization: Annotated[str, one_of(NORMALIZATIONS, "normalization")]
    rrf_k: NonNegative
    depth: PositiveInt
    name: Text


class HybridConfig(HybridSettings):
    """The ``config`` of a saved hybrid manifest: the settings, each source's weight and folder."""

    weights: dict[str, NonNegative]
    sources: dict[str, RelativePath]
    name: Text = "hybrid"

    @model_validator(mode="after")
    def _one_weight_per_source(self) -> HybridConfig:
        if not self.sources or set(self.weights) != set(self.sources):
            raise ValueError(f"weights are keyed {sorted(self.weights)}, the sources {sorted(self.sources)}")
        return self


def _named(retrievers: Sequence[Any] | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(retrievers, Mapping):
        named = dict(retrievers)
    else:
        named = {}
        for retriever in retrievers:
            name = getattr(retriever, "name", None) or type(retriever).__name__
            if name in named:
                raise ValueError(f"two retrievers are named {name!r}; pass a dict {{name: retriever}} instead")
            named[name] = retriever
    if not named:
        raise ValueError("HybridRetriever needs at least one retriever")
    for name, retriever in named.items():
        if not callable(getattr(retriever, "retrieve", None)):
            raise TypeError(f"retriever {name!r} has no retrieve(query, k) method ({type(retriever).__name__})")
    return named


class HybridRetriever:
    """Fuse the candidates of several retrievers.

    Args:
        retrievers: A list (keyed by each retriever's ``name``) or a dict {name: retriever}.
        fusion: ``"rrf"`` or ``"weighted"``.
        weights: Per-retriever weights, a list in the retrievers' order or a dict by name (default: all 1).
        rrf_k: The RRF constant (60, as in the RRF paper).
        normalization: For weighted fusion: ``"minmax"`` or ``"zscore"``.
        depth: How many candidates each source retrieves (at least the requested k).
        name: Written to ``Candidate.retriever``.
    """

    def __init__(
        self,
        retrievers: Sequence[Any] | Mapping[str, Any],
        *,
        fusion: str = "rrf",
        weights: Sequence[float] | Mapping[str, float] | None = None,
        rrf_k: float = 60,
        normalization: str = "minmax",
        depth: int = 100,
        name: str = "hybrid",
    ):
        self.retrievers = _named(retrievers)
        settings = check_settings(
            HybridSettings, fusion=fusion, normalization=normalization, rrf_k=rrf_k, depth=depth, name=name
        )
        self.fusion, self.normalization, self.rrf_k = settings.fusion, settings.normalization, settings.rrf_k
        self.weights = self._check_weights(weights)
        self.depth = settings.depth
        self.name = settings.name

    def _check_weights(self, weights: Sequence[float] | Mapping[str, float] | None) -> dict[str, float]:
        names = list(self.retrievers)
        if weights is None:
            return dict.fromkeys(names, 1.0)
        if not isinstance(weights, Mapping):
            weights = list(weights)
            if len(weights) != len(names):
                raise ValueError(f"got {len(weights)} weights for {len(names)} retrievers {names}")
            weights = dict(zip(names, weights, strict=True))
        if set(weights) != set(names):
            raise ValueError(f"weights are keyed {sorted(weights)}, the retrievers are {sorted(names)}")
        for key, value in weights.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise ValueError(f"weight of {key!r} must be a finite number >= 0, got {value!r}")
        return {name: float(weights[name]) for name in names}

    def __repr__(self) -> str:
        return f"HybridRetriever({list(self.retrievers)}, fusion={self.fusion!r})"

    def _contributions(self, source: str, candidates: Sequence[Candidate]) -> tuple[np.ndarray, float]:
        """One source's fused-score term for each of its candidates, and the term for a document it missed."""
        if any(c.retriever_score is None for c in candidates):
            raise ValueError(f"retriever {source!r} returned candidates without scores; they cannot be fused")
        weight = self.weights[source]
        if self.fusion == "rrf":
            ranks = np.array([c.retriever_rank for c in candidates], dtype=np.float64)
            return weight / (self.rrf_k + ranks), 0.0
        normalized = NORMALIZATIONS[self.normalization](
            np.array([c.retriever_score for c in candidates], dtype=np.float64)
        )
        return weight * normalized, weight * float(normalized.min())

    def fuse(self, lists: Mapping[str, Sequence[Candidate]], k: int) -> list[Candidate]:
        """Fuse one query's candidate lists (keyed by source name) into the ``k`` best fused candidates.

        Ties are broken by the best rank any source gave, then by first appearance (sources in order).
        """
        first: dict[str, Candidate] = {}
        sources: dict[str, dict[str, SourceScore]] = {}
        terms: dict[str, dict[str, float]] = {}
        missing: dict[str, float] = {}
        for source, candidates in lists.items():
            if not candidates:
                continue
            contributions, missing[source] = self._contributions(source, candidates)
            terms[source] = {}
            for candidate, contribution in zip(candidates, contributions.tolist(), strict=True):
                doc_id = candidate.document.id
                first.setdefault(doc_id, candidate)
                terms[source].setdefault(doc_id, contribution)
                sources.setdefault(doc_id, {}).setdefault(
                    source, SourceScore(score=candidate.retriever_score or 0.0, rank=candidate.retriever_rank)
                )
        fused = {doc_id: sum(terms[source].get(doc_id, missing[source]) for source in terms) for doc_id in first}
        best_rank = {doc_id: min(s.rank for s in sources[doc_id].values()) for doc_id in first}
        order = sorted(first, key=lambda doc_id: (-fused[doc_id], best_rank[doc_id]))[:k]
        return [
            Candidate(
                document=first[doc_id].document,
                retriever=self.name,
                retriever_score=fused[doc_id],
                retriever_rank=rank,
                sources=sources[doc_id],
            )
            for rank, doc_id in enumerate(order, start=1)
        ]

    def retrieve(self, query: str, k: int = 100) -> list[Candidate]:
        """The ``k`` best fused candidates; each source retrieves ``max(k, depth)``."""
        check_query(query)
        check_positive_int("k", k)
        depth = max(k, self.depth)
        return self.fuse({name: r.retrieve(query, depth) for name, r in self.retrievers.items()}, k)

    def retrieve_many(self, queries: Sequence[str], k: int = 100) -> list[list[Candidate]]:
        """``retrieve`` for each query, using each source's batched ``retrieve_many`` when it has one."""
        queries = check_queries(queries)
        check_positive_int("k", k)
        depth = max(k, self.depth)
        per_source = {}
        for name, retriever in self.retrievers.items():
            if callable(getattr(retriever, "retrieve_many", None)):
                per_source[name] = retriever.retrieve_many(queries, depth)
            else:
                per_source[name] = [retriever.retrieve(query, depth) for query in queries]
        return [self.fuse({name: lists[i] for name, lists in per_source.items()}, k) for i in range(len(queries))]

    def save(self, directory: str | Path) -> Path:
        """Save every source under ``sources/<position>-<name>`` and the fusion settings in manifest.json."""
        for name, retriever in self.retrievers.items():
            if not callable(getattr(retriever, "save", None)):
                raise TypeError(f"retriever {name!r} ({type(retriever).__name__}) has no save(directory) method")
        paths = {name: f"sources/{position}" for position, name in enumerate(self.retrievers)}
        config = {
            "fusion": self.fusion,
            "weights": self.weights,
            "rrf_k": self.rrf_k,
            "normalization": self.normalization,
            "depth": self.depth,
            "name": self.name,
            "sources": paths,
        }
        with save_directory(directory, "hybrid", config) as staging:
            for name, retriever in self.retrievers.items():
                retriever.save(staging / paths[name])
        return Path(directory)

    @classmethod
    def load(
        cls,
        directory: str | Path,
        model: Any = None,
        device: str | None = None,
        verify: bool = True,
        show_progress: bool = True,
    ) -> HybridRetriever:
        """Read a hybrid retriever and its sources; ``model`` / ``device`` go to any dense source."""
        from retrievers.loading import load_retriever

        saved = open_directory(directory, "hybrid", verify=verify)
        config = read_settings(HybridConfig, saved.config, saved.manifest_path)
        for name, path in config.sources.items():
            if not any(file.startswith(f"{path}/") for file in saved.files):
                raise IndexFormatError(f"{saved.manifest_path}: source {name!r} is in {path!r}, which holds no files")
        retrievers = {
            name: load_retriever(
                saved.directory / path, model=model, device=device, verify=False, show_progress=show_progress
            )
            for name, path in config.sources.items()
        }
        return cls(
            retrievers,
            fusion=config.fusion,
            weights=config.weights,
            rrf_k=config.rrf_k,
            normalization=config.normalization,
            depth=config.depth,
            name=config.name,
        )
