"""Ray Data: score (query, passage) rows on a pool of actors, each loading the model once.

``NLIBatchScorer`` is a callable class for ``Dataset.map_batches``; ``rerank_dataset`` wires it with
``compute=ActorPoolStrategy(size=actors)``. The same code runs on a local Ray and on a cluster; the model (a hub id
or a path that exists on every node) is loaded by each actor, never shipped from the driver. Needs
``pip install 'nli-rerank[ray]'``; see docs/integrations.md for a cluster job and the Spark equivalent.

Example:
    >>> import ray
    >>> from rerank.integrations.ray import rerank_dataset
    >>> ds = ray.data.read_parquet("pairs.parquet")  # columns query, text  # doctest: +SKIP
    >>> scored = rerank_dataset(ds, model="cross-encoder/nli-deberta-v3-small", actors=4)  # doctest: +SKIP
    >>> scored.write_parquet("scored/")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from rerank.errors import MissingDependencyError
from rerank.integrations._shared import build_reranker, relevance_values
from rerank.nli_reranker import DEFAULT_MODEL
from rerank.records import Document
from rerank.validation import check_positive_int

try:
    from ray.data import ActorPoolStrategy, Dataset
except ImportError as error:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        "rerank.integrations.ray needs ray[data]; install it with: pip install 'nli-rerank[ray]'"
    ) from error

__all__ = ["SCORE_COLUMN", "NLIBatchScorer", "rerank_dataset"]

SCORE_COLUMN = "score"


class NLIBatchScorer:
    """Adds the NLI probability columns (entailment, neutral, contradiction) and ``score`` (``relevance_score``: the
    probability the reranker orders by, entailment unless ``settings`` say ``order="decisiveness"``) to a batch.

    Rows are grouped by query and each group goes through ``reranker.score`` (one model pass per group), so the
    numbers are those of ``NLIReranker.score`` on the same passages. No fusion with a retriever score: a query's
    candidates may be spread over several batches; fuse after collecting them if you want it.

    Args:
        model: Hub id or directory of an NLI model (each actor loads its own copy).
        query_col: Column of the queries (or claims).
        text_col: Column of the passages.
        title_col: Optional column of titles (read as "Title. Text" at passage granularity).
        settings: NLIReranker keyword arguments (granularity, batch_size, threads, ...).

    Raises:
        TypeError: A model that is not a hub id or path.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = DEFAULT_MODEL,
        *,
        query_col: str = "query",
        text_col: str = "text",
        title_col: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ):
        if not isinstance(model, (str, os.PathLike)):
            raise TypeError(
                "model must be a hub id or a directory that every node can read (each actor loads its own copy), "
                f"got {type(model).__name__}"
            )
        self.query_col, self.text_col, self.title_col = query_col, text_col, title_col
        self.reranker = build_reranker(os.fspath(model), settings)
        self.columns = tuple(self.reranker.columns)

    @property
    def output_columns(self) -> tuple[str, ...]:
        """The columns this scorer adds."""
        return (*self.columns, SCORE_COLUMN)

    def __call__(self, batch: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The batch (numpy format) with the probability columns and ``score`` added.

        Raises:
            ValueError: A missing input column, an output column that is already there, an empty query or text.
        """
        for name in (self.query_col, self.text_col, self.title_col):
            if name is not None and name not in batch:
                raise ValueError(f"the batch has no column {name!r}; it has {sorted(batch)}")
        taken = [name for name in self.output_columns if name in batch]
        if taken:
            raise ValueError(f"the batch already has column(s) {taken}; rename them before scoring")
        queries, texts = batch[self.query_col], batch[self.text_col]
        titles = batch[self.title_col] if self.title_col is not None else None
        rows = np.zeros((len(queries), len(self.columns)))
        groups: dict[str, list[int]] = {}
        for position, query in enumerate(queries):
            groups.setdefault(str(query), []).append(position)
        for query, positions in groups.items():
            documents = [
                Document(id=str(position), text=str(texts[position]),
                         title=None if titles is None or titles[position] is None else str(titles[position]))
                for position in positions
            ]  # fmt: skip
            rows[positions] = np.asarray(self.reranker.score(query, documents)).reshape(len(positions), -1)
        out = dict(batch)
        for index, name in enumerate(self.columns):
            out[name] = rows[:, index]
        out[SCORE_COLUMN] = relevance_values(self.reranker, rows if len(self.columns) > 1 else rows[:, 0])
        return out


def rerank_dataset(
    ds: Dataset,
    *,
    query_col: str = "query",
    text_col: str = "text",
    title_col: str | None = None,
    model: str | os.PathLike[str] = DEFAULT_MODEL,
    settings: Mapping[str, Any] | None = None,
    batch_size: int = 64,
    actors: int = 1,
    cpus_per_actor: int = 1,
) -> Dataset:
    """``ds`` with the probability columns and ``score`` added by a pool of ``actors`` NLIBatchScorer actors.

    Each actor reserves ``cpus_per_actor`` CPUs and runs the model with as many threads (unless ``settings`` sets
    ``threads``), so actors do not oversubscribe the cores. Lazy, like every Ray Data transform: nothing runs
    until the dataset is consumed (``write_parquet``, ``take_all``, ``materialize``).

    Raises:
        TypeError, ValueError: A bad batch_size, actors or cpus_per_actor.
    """
    batch_size = check_positive_int("batch_size", batch_size)
    actors = check_positive_int("actors", actors)
    cpus_per_actor = check_positive_int("cpus_per_actor", cpus_per_actor)
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model must be a hub id or a directory that every node can read, got {type(model).__name__}")
    scorer_settings = {"threads": cpus_per_actor, "show_progress": False, **dict(settings or {})}
    return ds.map_batches(
        NLIBatchScorer,
        fn_constructor_kwargs=dict(
            model=os.fspath(model),
            query_col=query_col,
            text_col=text_col,
            title_col=title_col,
            settings=scorer_settings,
        ),
        batch_size=batch_size,
        batch_format="numpy",
        compute=ActorPoolStrategy(size=actors),
        num_cpus=cpus_per_actor,
    )
