"""BatchingRunner on a stand-in backend whose logits depend only on each row's unpadded tokens."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rerank_server.batching import BatchingRunner, QueueFullError, RequestTimeoutError
from tests.server.conftest import run_threads


class RowSums:
    """Logits (sum of ids, length) per row, read through the attention mask; records every batch's shape."""

    backend, precision, input_names = "stand-in", "fp32", ("input_ids", "attention_mask")

    def __init__(self, delay_s: float = 0.0, fail_on: int | None = None):
        self.delay_s, self.fail_on, self.shapes, self.batches = delay_s, fail_on, [], []
        self.lock = threading.Lock()

    def __call__(self, features):
        time.sleep(self.delay_s)
        ids, mask = features["input_ids"], features["attention_mask"]
        with self.lock:
            self.shapes.append(ids.shape)
            self.batches.append([(int(row[0]), int(n)) for row, n in zip(ids, mask.sum(axis=1), strict=True)])
        if self.fail_on is not None and (ids == self.fail_on).any():
            raise RuntimeError("bad batch")
        return np.stack([(ids * mask).sum(axis=1), mask.sum(axis=1)], axis=1).astype(np.float32)


def padded(rows: list[list[int]], pad: int = 0) -> dict[str, np.ndarray]:
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad, dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    return {"input_ids": ids, "attention_mask": (ids != pad).astype(np.int64)}


@pytest.fixture
def make_runner():
    runners = []

    def make(backend, **settings) -> BatchingRunner:
        runner = BatchingRunner(backend, pad_token_id=0, **settings)
        runner.start()
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.stop()


def test_each_caller_gets_its_own_rows_back(make_runner):
    backend = RowSums(delay_s=0.01)
    runner = make_runner(backend, max_wait_s=0.05, max_batch_pairs=64)
    calls = [[[i + 1] * (1 + (i + j) % 5) for j in range(3)] for i in range(16)]

    def call(i):
        with runner.track() as usage:
            out = runner(padded(calls[i]))
        return out, usage

    for i, (out, usage) in enumerate(run_threads(call, 16)):
        assert out.tolist() == [[sum(row), len(row)] for row in calls[i]]
        assert usage.pairs == 3 and usage.tokens == sum(len(row) for row in calls[i])
    assert len(backend.shapes) < 16  # rows of several callers shared model batches
    assert runner.metrics.batch_requests.count() < 16


def test_model_batches_respect_the_token_budget_and_row_limit(make_runner):
    backend = RowSums()
    runner = make_runner(backend, batch_tokens=40, max_batch_pairs=3)
    rows = [[7] * length for length in (10, 2, 9, 3, 3, 1, 12)]
    assert runner(padded(rows)).tolist() == [[7 * len(r), len(r)] for r in rows]
    assert all(n <= 3 and n * width <= 40 for n, width in backend.shapes)
    assert sum(n for n, _ in backend.shapes) == len(rows)


def test_without_batching_one_call_runs_at_a_time(make_runner):
    backend = RowSums(delay_s=0.01)
    runner = make_runner(backend, batching=False)
    run_threads(lambda i: runner(padded([[i + 1, 2]])), 6)
    assert [n for n, _ in backend.shapes] == [1] * 6


def test_a_failing_call_does_not_fail_the_calls_batched_with_it(make_runner):
    backend = RowSums(delay_s=0.02, fail_on=99)
    runner = make_runner(backend, max_wait_s=0.1)

    def call(i):
        try:
            return runner(padded([[99 if i == 2 else i + 1, 5]])).tolist()
        except RuntimeError as error:
            return str(error)

    results = run_threads(call, 5)
    assert results[2] == "bad batch"
    assert [results[i] for i in (0, 1, 3, 4)] == [[[i + 1 + 5, 2]] for i in (0, 1, 3, 4)]


def test_a_full_queue_refuses_and_a_late_call_times_out(make_runner):
    backend = RowSums(delay_s=0.3)
    runner = make_runner(backend, max_queued_pairs=2, batching=False)
    outcomes = run_threads(lambda i: _outcome(runner, padded([[1, 2], [3]])), 4)
    assert "ok" in outcomes and "full" in outcomes
    slow = make_runner(RowSums(delay_s=0.5), batching=False)
    with slow.track(timeout_s=0.05), pytest.raises(RequestTimeoutError):
        slow(padded([[1]]))


def _outcome(runner, features) -> str:
    try:
        runner(features)
        return "ok"
    except QueueFullError:
        return "full"


def test_stop_finishes_queued_work_and_refuses_new_calls(make_runner):
    backend = RowSums(delay_s=0.05)
    runner = make_runner(backend, batching=False)
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(runner(padded([[i + 1]])))) for i in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.02)
    runner.stop()
    for thread in threads:
        thread.join(5)
    assert len(results) == 3
    with pytest.raises(RuntimeError, match="not running"):
        runner(padded([[1]]))


def _padding(backend: RowSums) -> float:
    """Share of the model's input that was padding."""
    real = sum(n for batch in backend.batches for _, n in batch)
    return 1 - real / sum(rows * width for rows, width in backend.shapes)


def _behind_a_slow_call(runner, call, n: int) -> list:
    """Start a one-row call that keeps the worker busy, then run call(0..n-1) in threads meanwhile; their results."""
    blocker = threading.Thread(target=runner, args=(padded([[100]]),))
    blocker.start()
    time.sleep(0.05)  # the worker is inside the blocker's batch now
    results = run_threads(call, n)
    blocker.join()
    return results


def _queue_behind_a_slow_call(runner, backend, calls: list[list[list[int]]]) -> list[np.ndarray]:
    """``calls`` queued while the worker is busy; their outputs in order (the blocker dropped from ``backend``)."""
    outputs = _behind_a_slow_call(runner, lambda i: runner(padded(calls[i])), len(calls))
    backend.shapes, backend.batches = backend.shapes[1:], backend.batches[1:]
    return outputs


# Eight requests of four rows each, lengths 2..30: each request alone pads its rows to its longest.
MIXED = [[[i + 1] * length for length in (2 + i, 9 + i, 16 + i, 23 + i)] for i in range(8)]


@pytest.mark.parametrize("batching", [True, False])
def test_rows_share_a_batch_only_with_rows_of_nearly_their_length(make_runner, batching):
    backend = RowSums(delay_s=0.2)
    runner = make_runner(backend, batching=batching, min_row_fill=0.7, batch_tokens=1000, max_wait_s=0.05)
    outputs = _queue_behind_a_slow_call(runner, backend, MIXED)
    assert [out.tolist() for out in outputs] == [[[sum(r), len(r)] for r in call] for call in MIXED]
    for rows, width in backend.shapes:
        assert rows * width <= 1000
    for batch in backend.batches:
        assert min(n for _, n in batch) >= 0.7 * max(n for _, n in batch)
        if not batching:
            assert len({first for first, _ in batch}) == 1  # one request's rows only


def test_batching_across_requests_needs_fewer_model_calls_at_bounded_padding(make_runner):
    measured = {}
    for batching in (False, True):
        backend = RowSums(delay_s=0.2)
        runner = make_runner(backend, batching=batching, batch_tokens=1000, max_wait_s=0.05)
        _queue_behind_a_slow_call(runner, backend, MIXED)
        measured[batching] = (_padding(backend), len(backend.shapes))
    # one at a time, a request's rows of different lengths mostly run alone; together, rows of nearly one length
    # from several requests share each call
    assert measured[True][1] < measured[False][1] / 2
    assert measured[True][0] < 0.3 and measured[False][0] < 0.3


def test_a_request_is_answered_when_its_rows_are_scored_not_when_the_queue_is(make_runner):
    backend = RowSums(delay_s=0.1)
    runner = make_runner(backend, max_batch_pairs=1, max_wait_s=0.05)
    batches_run_when_answered = {}

    def call(i):
        time.sleep(0.01 * i)  # request 0 (one row) arrives first, request 1 (eight rows) right after
        runner(padded([[1, 2]] if i == 0 else [[2, 3]] * 8))
        batches_run_when_answered[i] = len(backend.shapes)

    run_threads(call, 2)
    assert batches_run_when_answered == {0: 1, 1: 9}  # not after the eight batches of the request batched with it


def test_the_oldest_request_leads_every_batch_until_it_is_answered(make_runner):
    backend = RowSums(delay_s=0.2)
    runner = make_runner(backend, max_batch_pairs=2, min_row_fill=0.0, max_wait_s=0.05)
    calls = [[[1] * 10, [1] * 10, [1] * 10]] + [[[i + 2] * 12] * 3 for i in range(4)]  # later rows are longer
    finished: list[int] = []

    def call(i):
        time.sleep(0.02 * i)  # arrival order 0, 1, 2, ...
        runner(padded(calls[i]))
        finished.append(i)

    _behind_a_slow_call(runner, call, len(calls))
    assert finished[0] == 0
    batches_of_0 = [k for k, batch in enumerate(backend.batches) if any(first == 1 for first, _ in batch)]
    assert batches_of_0 == [1, 2]  # right after the blocker, two batches in a row


def test_a_lone_request_does_not_wait_for_company(make_runner):
    runner = make_runner(RowSums(), max_wait_s=5.0)
    started = time.monotonic()
    with runner.track():
        runner(padded([[1, 2]]))
    assert time.monotonic() - started < 2.5  # the 5 s wait is only for requests still preparing their rows


def test_the_worker_waits_for_a_request_still_preparing_its_rows(make_runner):
    backend = RowSums()
    runner = make_runner(backend, max_wait_s=5.0)

    def call(i):
        with runner.track():
            time.sleep(0.3 * i)  # request 1 is still segmenting and tokenising when request 0 queues its rows
            return runner(padded([[i + 1, 2]])).tolist()

    assert run_threads(call, 2) == [[[3, 2]], [[4, 2]]]
    assert len(backend.shapes) == 1  # both rows in one model batch
