"""Compare systems over the same queries: metric means, differences to a baseline, paired p-values, latency.

A system's output is a ``SystemRun``: its run, per-query latency and the model pairs it scored. Build one with
``run_pipeline`` (any ``Pipeline`` or callable, timed live) or directly from the staged helpers of ``eval.runs``
(which replay cached model time). ``compare`` evaluates them all against one qrels and returns a ``Comparison``
that prints as a markdown table, saves as JSON (per-query values included) and plots a difference histogram.

Example:
    >>> systems = [run_pipeline(Pipeline(bm25, None, k=100, top_k=100), queries, name="bm25"),
    ...            run_pipeline(Pipeline(bm25, reranker, k=30, top_k=30), queries, name="bm25+nli")]  # doctest: +SKIP
    >>> report = compare(systems, qrels, ["ndcg@10", "mrr@10"], baseline="bm25")  # doctest: +SKIP
    >>> print(report.to_markdown())  # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from eval.evaluate import evaluate
from eval.runs import run_from_rankings
from eval.significance import DEFAULT_RESAMPLES, DEFAULT_SEED, paired_scores, paired_t_test, permutation_test
from rerank.atomic import write_bytes_atomic, write_text_atomic
from rerank.records import Candidate, Document, RankedResult

__all__ = ["Comparison", "SystemRun", "compare", "ranking_of", "run_pipeline"]


@dataclass(frozen=True)
class SystemRun:
    """One system's run over a set of queries.

    Attributes:
        name: Label in tables and JSON.
        run: ``{query_id: {doc_id: score}}``.
        seconds: Per-query latency in seconds (retrieval plus model time).
        pairs: Model pairs scored in total (0 for retrieval only).
        model_seconds: Model time in total, for pairs per second.
        notes: Free text carried into the JSON (depth, weight, thresholds, ...).
    """

    name: str
    run: dict[str, dict[str, float]]
    seconds: dict[str, float] = field(default_factory=dict)
    pairs: int = 0
    model_seconds: float = 0.0
    notes: str = ""

    @property
    def pairs_per_second(self) -> float | None:
        return self.pairs / self.model_seconds if self.pairs and self.model_seconds > 0 else None


def ranking_of(results: Sequence[Any]) -> list[str]:
    """Document ids, best first, from what a pipeline returns: RankedResult records (kept ones, by rank),
    Candidates (by retriever rank), Documents, ``(doc_id, score)`` tuples or plain doc-id strings."""
    items = list(results)
    if not items:
        return []
    first = items[0]
    if isinstance(first, RankedResult):
        return [r.document.id for r in sorted(items, key=lambda r: r.rank) if r.kept]
    if isinstance(first, Candidate):
        return [c.document.id for c in sorted(items, key=lambda c: c.retriever_rank)]
    if isinstance(first, Document):
        return [d.id for d in items]
    if isinstance(first, tuple) and len(first) == 2:
        return [str(doc_id) for doc_id, _ in sorted(items, key=lambda item: -item[1])]
    if isinstance(first, str):
        return list(items)
    raise TypeError(f"cannot read a ranking from results of type {type(first).__name__}")


def run_pipeline(
    system: Any,
    queries: Mapping[str, str],
    *,
    name: str,
    show_progress: bool = True,
    notes: str = "",
) -> SystemRun:
    """Run a Pipeline (its ``search``) or any callable ``query -> results`` over every query, timing each call.

    Filtered-out results (kept=False) are left out of the run.
    """
    search: Callable[[str], Sequence[Any]] | None = getattr(system, "search", None)
    if search is None and callable(system):
        search = system
    if not callable(search):
        raise TypeError(f"system must be a Pipeline (with search) or a callable, got {type(system).__name__}")
    rankings, seconds = {}, {}
    for qid, text in tqdm(queries.items(), desc=name, disable=not show_progress):
        start = time.perf_counter()
        results = search(text)
        seconds[qid] = time.perf_counter() - start
        rankings[qid] = ranking_of(results)
    return SystemRun(name, run_from_rankings(rankings), seconds, notes=notes)


@dataclass(frozen=True)
class Comparison:
    """Everything ``compare`` measured; ``rows`` holds one dict per system in input order."""

    metrics: list[str]
    baseline: str
    rows: list[dict[str, Any]]
    per_query: dict[str, dict[str, dict[str, float]]]
    n_queries: int

    def to_dict(self) -> dict:
        return {"metrics": self.metrics, "baseline": self.baseline, "n_queries": self.n_queries,
                "systems": self.rows, "per_query": self.per_query}  # fmt: skip

    def save_json(self, path: str | Path) -> Path:
        """Write ``to_dict()`` as JSON, replacing ``path`` atomically (a killed write leaves the old file)."""
        return write_text_atomic(path, json.dumps(self.to_dict(), indent=1) + "\n")

    def to_markdown(self) -> str:
        """A table: each metric's mean, then the difference to the baseline with (paired t / permutation) p-values."""
        header = ["system", *self.metrics, "ms/query p50", "p95", "pairs/s"]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in self.rows:
            cells = [row["name"] + (" (baseline)" if row["name"] == self.baseline else "")]
            for metric in self.metrics:
                cell = f"{row['mean'][metric]:.4f}"
                if row["name"] != self.baseline:
                    d, t, perm = row["difference"][metric], row["p_t"][metric], row["p_permutation"][metric]
                    cell += f" ({d:+.4f}; p {t:.3g} / {perm:.3g})"
                cells.append(cell)
            for value in (row["latency_ms_p50"], row["latency_ms_p95"]):
                cells.append("" if value is None else f"{value:.1f}")
            cells.append("" if row["pairs_per_second"] is None else f"{row['pairs_per_second']:.1f}")
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def plot_differences(self, path: str | Path, metric: str | None = None) -> Path:
        """A PNG histogram of per-query differences to the baseline, one series per system (needs matplotlib)."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as error:
            raise ImportError("plotting needs matplotlib: pip install 'nli-rerank[eval]'") from error
        metric = metric or self.metrics[0]
        if metric not in self.metrics:
            raise ValueError(f"metric {metric!r} was not computed; choose one of {self.metrics}")
        base = self.per_query[self.baseline][metric]
        figure, axes = plt.subplots(figsize=(7, 4))
        for name, values in self.per_query.items():
            if name != self.baseline:
                a, b = paired_scores(values[metric], base)
                axes.hist(np.subtract(a, b), bins=41, range=(-1, 1), alpha=0.5, label=name)
        axes.set_xlabel(f"{metric}: system - {self.baseline}, per query")
        axes.set_ylabel("queries")
        if len(self.per_query) > 1:  # only the baseline: an empty plot, without a legend warning
            axes.legend()
        figure.tight_layout()
        image = io.BytesIO()
        figure.savefig(image, format="png", dpi=120)
        plt.close(figure)
        return write_bytes_atomic(path, image.getvalue())


def _percentile_ms(seconds: Mapping[str, float], q: float) -> float | None:
    return float(np.percentile(list(seconds.values()), q) * 1000) if seconds else None


def compare(
    systems: Sequence[SystemRun],
    qrels: Mapping[str, Mapping[str, int]],
    metrics: Sequence[str],
    *,
    baseline: str | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Comparison:
    """Evaluate every system on the same qrels and test each against the baseline (default: the first system).

    Raises:
        ValueError: No systems, duplicate names, or a baseline name that is not among them (listing the names).
    """
    systems = list(systems)
    if not systems:
        raise ValueError("no systems to compare")
    names = [s.name for s in systems]
    if len(set(names)) != len(names):
        raise ValueError(f"system names must be unique, got {names}")
    baseline = names[0] if baseline is None else baseline
    if baseline not in names:
        raise ValueError(f"baseline {baseline!r} is not one of the systems {names}")
    evaluations = {s.name: evaluate(qrels, s.run, metrics) for s in systems}
    base = evaluations[baseline]
    rows = []
    for system in systems:
        result = evaluations[system.name]
        row: dict[str, Any] = {"name": system.name, "notes": system.notes, "mean": result.aggregate,
                               "difference": {}, "p_t": {}, "p_permutation": {}}  # fmt: skip
        for metric in result.aggregate:
            a, b = paired_scores(result.per_query[metric], base.per_query[metric])
            row["difference"][metric] = result.aggregate[metric] - base.aggregate[metric]
            row["p_t"][metric] = paired_t_test(a, b)
            row["p_permutation"][metric] = permutation_test(a, b, n_resamples=n_resamples, seed=seed)
        row.update(
            latency_ms_p50=_percentile_ms(system.seconds, 50),
            latency_ms_p95=_percentile_ms(system.seconds, 95),
            pairs=system.pairs,
            model_seconds=system.model_seconds,
            pairs_per_second=system.pairs_per_second,
        )
        rows.append(row)
    per_query = {name: evaluation.per_query for name, evaluation in evaluations.items()}
    return Comparison(list(base.aggregate), baseline, rows, per_query, len(qrels))
