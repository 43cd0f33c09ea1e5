"""Cross-request batching: request threads queue their rows; one worker thread fills model batches from all of them.

``BatchingRunner`` wraps a backend's ``BatchRunner`` (rerank.backends) and is itself one, so any reranker built on
a ``LoadedModel`` whose runner it replaces scores through it unchanged. A request thread's call is queued as a job
(its rows, padding stripped) and waits for its logits. The worker builds one model batch at a time (continuous
batching, no rounds):

1. The anchor is the oldest job with rows not yet scored; its longest such row sets the batch width W. When that
   job has not started yet and other requests are still preparing their rows (inside ``track``, not yet queued),
   the worker first waits up to ``max_wait_s`` for them to join; a lone request never waits.
2. The batch takes the anchor's rows first, then rows of the next jobs (in arrival order, up to ``lookahead_pairs``
   queued rows), longest first, as long as rows x W stays within ``batch_tokens`` and ``max_batch_pairs``. Only rows
   of length in [``min_row_fill`` x W, W] join, so padding stays under 1 - ``min_row_fill`` of any row.
3. A job gets its logits, in its own row order, as soon as its last row is scored, not when a whole round ends.

Why this pays on a CPU: a CPU runs a transformer fastest per token in small batches (about 1-2k tokens, rows x
width; more is slower per token), so the gain of batching across requests is not bigger batches but less padding:
one request's rows vary in length, and with many requests queued every small batch is filled with rows of nearly one
length. ``benchmarks/serve_load.py`` measures it (docs/server.md). With ``batching=False`` the worker takes rows of
the oldest job only, with the same batch rules: the one-request-at-a-time baseline.

A batch that fails is run again job by job, so a model error reaches only the request that caused it.

Example:
    >>> runner = BatchingRunner(loaded.runner, pad_token_id=0)  # doctest: +SKIP
    >>> runner.start(); model = dataclasses.replace(loaded, runner=runner)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import numpy as np

from rerank.backends import BatchRunner
from rerank_server.metrics import ServerMetrics

__all__ = ["BatchingRunner", "QueueFullError", "RequestTimeoutError", "Usage"]

logger = logging.getLogger(__name__)


class QueueFullError(RuntimeError):
    """More pairs are waiting than ``max_queued_pairs`` allows; the caller should retry later (HTTP 503)."""


class RequestTimeoutError(RuntimeError):
    """A request's deadline passed before the model scored its pairs (HTTP 504); its queued pairs were dropped."""


@dataclass
class Usage:
    """What one request ran through the model: pairs and tokens (padding excluded)."""

    pairs: int = 0
    tokens: int = 0
    deadline: float | None = None  # time.monotonic() after which the request gives up


@dataclass(eq=False)
class _Job:
    rows: list[dict[str, np.ndarray]]
    lengths: np.ndarray
    future: Future = field(default_factory=Future)
    pending: np.ndarray = field(init=False)  # rows not yet handed to the model
    logits: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.pending = np.ones(len(self.rows), dtype=bool)

    @property
    def size(self) -> int:
        return len(self.rows)

    @property
    def started(self) -> bool:
        return not self.pending.all()


# One model batch: (job, indices of its rows) for each job with rows in it.
_Batch = list[tuple[_Job, np.ndarray]]


class BatchingRunner:
    """A ``BatchRunner`` that batches calls from many threads into shared model batches (see the module docstring).

    Args:
        runner: The backend's runner; only the worker thread calls it.
        pad_token_id: Padding id of the tokenizer (``loaded.tokenizer.pad_token_id``).
        batch_tokens: Upper bound of rows x longest row in one model batch.
        max_batch_pairs: Upper bound of rows in one model batch.
        lookahead_pairs: Queued rows (of whole jobs, oldest first) a batch may draw from; at least the anchor job.
        min_row_fill: A row joins a batch only if it is at least this fraction of the batch's longest row.
        max_wait_s: How long the worker waits for requests still preparing their rows before starting a new job,
            while fewer than ``lookahead_pairs`` rows are queued.
        max_queued_pairs: Rows allowed to wait; a call that would exceed it raises QueueFullError (a call alone
            in an empty queue is always accepted).
        batching: False takes rows of one job at a time (no cross-request batching).
        metrics: Where pairs, tokens, batch sizes and queue depth are recorded.
    """

    def __init__(
        self,
        runner: BatchRunner,
        *,
        pad_token_id: int,
        batch_tokens: int = 2048,
        max_batch_pairs: int = 64,
        lookahead_pairs: int = 1024,
        min_row_fill: float = 0.7,
        max_wait_s: float = 0.005,
        max_queued_pairs: int = 20000,
        batching: bool = True,
        metrics: ServerMetrics | None = None,
    ):
        if not 0.0 <= min_row_fill <= 1.0:
            raise ValueError(f"min_row_fill must be in [0, 1], got {min_row_fill}")
        self._runner = runner
        self.backend, self.precision, self.input_names = runner.backend, runner.precision, runner.input_names
        self.pad_token_id = pad_token_id
        self.batch_tokens, self.max_batch_pairs, self.max_wait_s = batch_tokens, max_batch_pairs, max_wait_s
        self.lookahead_pairs, self.min_row_fill = lookahead_pairs, min_row_fill
        self.max_queued_pairs, self.batching = max_queued_pairs, batching
        self.metrics = metrics or ServerMetrics()
        self._queue: deque[_Job] = deque()  # jobs with rows not yet scored, oldest first
        self._queued = 0  # rows not yet handed to the model
        self._preparing = 0  # requests inside track() that are not waiting for the model
        self._cond = threading.Condition()
        self._stopping = False
        self._worker: threading.Thread | None = None
        self._local = threading.local()

    # -- request side -------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def track(self, timeout_s: float | None = None) -> Iterator[Usage]:
        """Count the pairs and tokens this thread scores inside the block, and give up after ``timeout_s``."""
        usage = Usage(deadline=None if timeout_s is None else time.monotonic() + timeout_s)
        previous = getattr(self._local, "usage", None)
        self._local.usage = usage
        self._add_preparing(1)
        try:
            yield usage
        finally:
            self._add_preparing(-1)
            self._local.usage = previous

    def _add_preparing(self, change: int) -> None:
        with self._cond:
            self._preparing += change
            self._cond.notify_all()

    def __call__(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        ids = np.asarray(features["input_ids"])
        mask = features.get("attention_mask")
        lengths = np.asarray(mask).sum(axis=1).astype(np.int64) if mask is not None else np.full(len(ids), ids.shape[1])
        rows = [
            {name: np.asarray(features[name])[i, : lengths[i]] for name in self.input_names} for i in range(len(ids))
        ]
        job = _Job(rows, lengths)
        if not job.size:
            return np.empty((0, 0), dtype=np.float32)
        usage: Usage | None = getattr(self._local, "usage", None)
        with self._cond:
            if self._stopping or self._worker is None:
                raise RuntimeError("the batching worker is not running (server starting or shutting down)")
            if self._queued and self._queued + job.size > self.max_queued_pairs:
                self.metrics.rejected.inc()
                raise QueueFullError(
                    f"{self._queued} pairs are already waiting for the model (limit {self.max_queued_pairs}); "
                    "retry later"
                )
            self._queue.append(job)
            self._set_queued(self._queued + job.size)
            if usage is not None:
                self._preparing -= 1  # waiting for the model now
            self._cond.notify_all()
        timeout = None if usage is None or usage.deadline is None else max(0.0, usage.deadline - time.monotonic())
        try:
            logits = job.future.result(timeout=timeout)
        except FutureTimeout:
            with self._cond:
                self._drop(job)
            raise RequestTimeoutError("the request took longer than its timeout; its pairs were not scored") from None
        finally:
            if usage is not None:
                self._add_preparing(1)  # back to preparing (it may queue more rows)
        if usage is not None:
            usage.pairs += job.size
            usage.tokens += int(lengths.sum())
        return logits

    # -- worker side --------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker thread (idempotent)."""
        with self._cond:
            if self._worker is not None:
                return
            self._stopping = False
            self._worker = threading.Thread(target=self._loop, name="rerank-batching", daemon=True)
            self._worker.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Let the worker finish the queued jobs, then stop it; new calls are refused from now on."""
        with self._cond:
            worker, self._stopping = self._worker, True
            self._cond.notify_all()
        if worker is not None:
            worker.join(timeout_s)
        with self._cond:
            self._worker = None

    @property
    def queued_pairs(self) -> int:
        return self._queued

    def _set_queued(self, value: int) -> None:
        self._queued = value
        self.metrics.queue_pairs.set(value)

    def _drop(self, job: _Job) -> None:
        """Take a job out of the queue (timed out or failed); its rows in flight are discarded. Holds the lock."""
        if any(queued is job for queued in self._queue):
            self._queue.remove(job)
            self._set_queued(self._queued - int(job.pending.sum()))

    def _loop(self) -> None:
        while (batch := self._next_batch()) is not None:
            self.metrics.batch_requests.observe(len(batch))
            self._run_batch(batch)

    def _next_batch(self) -> _Batch | None:
        """The rows of the next model batch, after waiting for work (None: stop)."""
        with self._cond:
            # No rows are in flight here (one worker), so no rows queued means no jobs queued.
            while not self._queued:
                if self._stopping:
                    return None
                self._cond.wait()
            anchor = next(job for job in self._queue if job.pending.any())
            if self.batching and not anchor.started:  # a new request: give the ones on their way a moment to join
                deadline = time.monotonic() + self.max_wait_s
                while self._preparing > 0 and self._queued < self.lookahead_pairs and not self._stopping:
                    left = deadline - time.monotonic()
                    if left <= 0 or (not self._cond.wait(left) and time.monotonic() >= deadline):
                        break
            return self._fill(anchor)

    def _fill(self, anchor: _Job) -> _Batch:
        """Choose the batch's rows (step 2 of the module docstring) and mark them taken. Holds the lock."""
        jobs, seen = [anchor], int(anchor.pending.sum())
        if self.batching:
            for job in self._queue:  # jobs before the anchor have no rows left to hand out
                if seen >= self.lookahead_pairs:
                    break
                if job is not anchor and job.pending.any():
                    jobs.append(job)
                    seen += int(job.pending.sum())
        width = int(anchor.lengths[anchor.pending].max())
        capacity = max(1, min(self.max_batch_pairs, self.batch_tokens // max(width, 1)))
        shortest = self.min_row_fill * width
        order, lengths, rank = [], [], []
        for k, job in enumerate(jobs):
            fits = job.pending & (job.lengths <= width) & (job.lengths >= shortest)
            for i in np.flatnonzero(fits):
                order.append((job, i))
                lengths.append(int(job.lengths[i]))
                rank.append(k)
        # the anchor's rows first, then the longest rows (least padding), older jobs first among equals
        keys = np.lexsort((np.asarray(rank), -np.asarray(lengths), np.asarray(rank) > 0))[:capacity]
        chosen: dict[int, tuple[_Job, list[int]]] = {}
        for key in keys:
            job, i = order[key]
            chosen.setdefault(id(job), (job, []))[1].append(int(i))
            job.pending[i] = False
        self._set_queued(self._queued - len(keys))
        return [(job, np.asarray(rows)) for job, rows in chosen.values()]

    def _run_batch(self, batch: _Batch) -> None:
        try:
            logits = self._run_rows([job.rows[i] for job, rows in batch for i in rows])
        except Exception as error:  # a bad batch: find the job that causes it, spare the others
            if len(batch) > 1:
                for part in batch:
                    self._run_batch([part])
                return
            logger.exception("model batch failed")
            job = batch[0][0]
            with self._cond:
                self._drop(job)
            if not job.future.done():
                job.future.set_exception(error)
            return
        start = 0
        with self._cond:
            for job, rows in batch:
                scores, start = logits[start : start + len(rows)], start + len(rows)
                if not any(queued is job for queued in self._queue):
                    continue  # timed out or failed meanwhile
                if job.logits is None:
                    job.logits = np.empty((job.size, logits.shape[1]), dtype=np.float32)
                job.logits[rows] = scores
                if not job.pending.any():  # one worker: this batch held the job's last rows in flight
                    self._queue.remove(job)
                    job.future.set_result(job.logits)
            self._cond.notify_all()

    def _run_rows(self, rows: list[dict[str, np.ndarray]]) -> np.ndarray:
        width = max(len(row["input_ids"]) for row in rows)
        logits = np.asarray(self._runner(self._pad(rows, width)), dtype=np.float32)
        self.metrics.batch_pairs.observe(len(rows))
        self.metrics.pairs.inc(len(rows))
        self.metrics.tokens.inc(sum(len(row["input_ids"]) for row in rows))
        return logits

    def _pad(self, rows: list[dict[str, np.ndarray]], width: int) -> dict[str, np.ndarray]:
        features = {}
        for name in self.input_names:
            value = self.pad_token_id if name == "input_ids" else 0
            batch = np.full((len(rows), width), value, dtype=np.int64)
            for i, row in enumerate(rows):
                batch[i, : len(row[name])] = row[name]
            features[name] = batch
        if "attention_mask" in features:
            features["attention_mask"] = (
                np.arange(width) < np.array([len(r["input_ids"]) for r in rows])[:, None]
            ).astype(np.int64)
        return features
