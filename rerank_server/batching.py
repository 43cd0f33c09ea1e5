"""Cross-request batching: request threads hand padded batches to one worker thread that runs the model.

``BatchingRunner`` wraps a backend's ``BatchRunner`` (rerank.backends) and is itself one, so any reranker built on
a ``LoadedModel`` whose runner it replaces scores through it unchanged. A request thread's call is queued as a job;
the worker waits at most ``max_wait_s`` for more jobs, takes queued jobs first come first served, strips each row's
padding, sorts every row of the round by length and runs them in model batches bounded by ``batch_tokens`` (rows x
longest row) and ``max_batch_pairs``; each job gets its own rows back in order. With ``batching=False`` the worker
runs one job at a time (one request's batch at a time), the baseline the load benchmark compares against.

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


@dataclass
class _Job:
    rows: list[dict[str, np.ndarray]]
    lengths: np.ndarray
    future: Future = field(default_factory=Future)

    @property
    def size(self) -> int:
        return len(self.rows)


class BatchingRunner:
    """A ``BatchRunner`` that batches calls from many threads into shared model batches (see the module docstring).

    Args:
        runner: The backend's runner; only the worker thread calls it.
        pad_token_id: Padding id of the tokenizer (``loaded.tokenizer.pad_token_id``).
        batch_tokens: Upper bound of rows x longest row in one model batch.
        max_batch_pairs: Upper bound of rows in one model batch.
        max_wait_s: How long the worker waits for more jobs when fewer than ``max_batch_pairs`` rows are queued.
        max_queued_pairs: Rows allowed to wait; a call that would exceed it raises QueueFullError (a call alone
            in an empty queue is always accepted).
        batching: False runs one job at a time, in its own batches (no cross-request batching).
        metrics: Where pairs, tokens, batch sizes and queue depth are recorded.
    """

    def __init__(
        self,
        runner: BatchRunner,
        *,
        pad_token_id: int,
        batch_tokens: int = 16384,
        max_batch_pairs: int = 64,
        max_wait_s: float = 0.005,
        max_queued_pairs: int = 20000,
        batching: bool = True,
        metrics: ServerMetrics | None = None,
    ):
        self._runner = runner
        self.backend, self.precision, self.input_names = runner.backend, runner.precision, runner.input_names
        self.pad_token_id = pad_token_id
        self.batch_tokens, self.max_batch_pairs, self.max_wait_s = batch_tokens, max_batch_pairs, max_wait_s
        self.max_queued_pairs, self.batching = max_queued_pairs, batching
        self.metrics = metrics or ServerMetrics()
        self._queue: deque[_Job] = deque()
        self._queued = 0
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
        try:
            yield usage
        finally:
            self._local.usage = previous

    def __call__(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        ids = np.asarray(features["input_ids"])
        mask = features.get("attention_mask")
        lengths = np.asarray(mask).sum(axis=1).astype(np.int64) if mask is not None else np.full(len(ids), ids.shape[1])
        rows = [
            {name: np.asarray(features[name])[i, : lengths[i]] for name in self.input_names} for i in range(len(ids))
        ]
        job = _Job(rows, lengths)
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
            self._queued += job.size
            self.metrics.queue_pairs.set(self._queued)
            self._cond.notify_all()
        timeout = None if usage is None or usage.deadline is None else max(0.0, usage.deadline - time.monotonic())
        try:
            logits = job.future.result(timeout=timeout)
        except FutureTimeout:
            with self._cond:
                if job in self._queue:
                    self._queue.remove(job)
                    self._queued -= job.size
                    self.metrics.queue_pairs.set(self._queued)
            job.future.cancel()
            raise RequestTimeoutError("the request took longer than its timeout; its pairs were not scored") from None
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

    def _take(self) -> list[_Job] | None:
        """The jobs of the next round, after waiting for work (None: stop)."""
        with self._cond:
            while not self._queue:
                if self._stopping:
                    return None
                self._cond.wait()
            if self.batching:
                deadline = time.monotonic() + self.max_wait_s
                while self._queued < self.max_batch_pairs and not self._stopping:
                    left = deadline - time.monotonic()
                    if left <= 0 or (not self._cond.wait(left) and time.monotonic() >= deadline):
                        break
            jobs: list[_Job] = []
            taken = 0
            while self._queue and (not jobs or (self.batching and taken < self.max_batch_pairs)):
                job = self._queue.popleft()
                self._queued -= job.size
                if job.future.set_running_or_notify_cancel():
                    jobs.append(job)
                    taken += job.size
            self.metrics.queue_pairs.set(self._queued)
            return jobs

    def _loop(self) -> None:
        while (jobs := self._take()) is not None:
            if jobs:
                self.metrics.batch_requests.observe(len(jobs))
                self._run_jobs(jobs)

    def _run_jobs(self, jobs: list[_Job]) -> None:
        try:
            logits = self._run_rows([row for job in jobs for row in job.rows])
        except Exception as error:  # a bad batch: find the job that causes it, spare the others
            if len(jobs) > 1:
                for job in jobs:
                    self._run_jobs([job])
                return
            logger.exception("model batch failed")
            jobs[0].future.set_exception(error)
            return
        start = 0
        for job in jobs:
            job.future.set_result(logits[start : start + job.size])
            start += job.size

    def _run_rows(self, rows: list[dict[str, np.ndarray]]) -> np.ndarray:
        lengths = [len(row["input_ids"]) for row in rows]
        order = sorted(range(len(rows)), key=lambda i: lengths[i], reverse=True)
        out: np.ndarray | None = None
        start = 0
        while start < len(order):
            width, stop = lengths[order[start]], start + 1  # longest first: the first row sets the width
            while (
                stop < len(order)
                and stop - start < self.max_batch_pairs
                and (stop - start + 1) * width <= self.batch_tokens
            ):
                stop += 1
            chosen = order[start:stop]
            logits = np.asarray(self._runner(self._pad([rows[i] for i in chosen], width)), dtype=np.float32)
            if out is None:
                out = np.empty((len(rows), logits.shape[1]), dtype=np.float32)
            out[chosen] = logits
            self.metrics.batch_pairs.observe(len(chosen))
            self.metrics.pairs.inc(len(chosen))
            self.metrics.tokens.inc(sum(lengths[i] for i in chosen))
            start = stop
        return out if out is not None else np.empty((0, 0), dtype=np.float32)

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
