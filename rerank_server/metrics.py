"""Counters, gauges and histograms written in the Prometheus text exposition format (version 0.0.4).

A few dozen lines instead of a dependency: the server exports a fixed, small set of series. Every update takes one
lock, so request threads, the batching worker and the event loop may all record.

Example:
    >>> registry = Registry()
    >>> hits = registry.counter("demo_hits_total", "Hits.", ("route",))
    >>> hits.inc(route="/rerank")
    >>> "demo_hits_total{route=\\"/rerank\\"} 1" in registry.render()
    True
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

__all__ = ["CONTENT_TYPE", "Counter", "Gauge", "Histogram", "Registry"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{name}="{_escape(value)}"' for name, value in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


class _Metric:
    kind = ""

    def __init__(self, name: str, help_text: str, labels: Sequence[str], lock: threading.Lock):
        self.name, self.help, self.label_names, self._lock = name, help_text, tuple(labels), lock

    def _key(self, labels: dict[str, str]) -> tuple[str, ...]:
        if set(labels) != set(self.label_names):
            raise ValueError(f"{self.name} takes labels {list(self.label_names)}, got {sorted(labels)}")
        return tuple(str(labels[name]) for name in self.label_names)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
    """A value that only goes up (requests, pairs, tokens)."""

    kind = "counter"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError(f"a counter only goes up, got {amount}")
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0.0)

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        if not items and not self.label_names:
            items = [((), 0.0)]
        return [f"{self.name}{_labels(self.label_names, key)} {_number(value)}" for key, value in items]


class Gauge(_Metric):
    """A value that goes up and down (queue depth, readiness)."""

    kind = "gauge"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._value = 0.0

    def set(self, value: float) -> None:
        with self._lock:
            self._value = float(value)

    def lines(self) -> list[str]:
        with self._lock:
            return [f"{self.name} {_number(self._value)}"]


class Histogram(_Metric):
    """Observations counted into cumulative buckets (latency, batch size), with their sum and count."""

    kind = "histogram"

    def __init__(
        self, name: str, help_text: str, labels: Sequence[str], lock: threading.Lock, buckets: Sequence[float]
    ):
        super().__init__(name, help_text, labels, lock)
        self.buckets = (*sorted(buckets), math.inf)
        self._counts: dict[tuple[str, ...], list[int]] = {}
        self._sums: dict[tuple[str, ...], float] = {}

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            counts = self._counts.setdefault(key, [0] * len(self.buckets))
            for position, bound in enumerate(self.buckets):
                if value <= bound:
                    counts[position] += 1
            self._sums[key] = self._sums.get(key, 0.0) + value

    def count(self, **labels: str) -> int:
        with self._lock:
            return self._counts.get(self._key(labels), [0])[-1]

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted((key, list(counts), self._sums[key]) for key, counts in self._counts.items())
        out = []
        for key, counts, total in items:
            for bound, count in zip(self.buckets, counts, strict=True):
                le = 'le="' + _number(bound) + '"'
                out.append(f"{self.name}_bucket{_labels(self.label_names, key, le)} {count}")
            out.append(f"{self.name}_sum{_labels(self.label_names, key)} {_number(total)}")
            out.append(f"{self.name}_count{_labels(self.label_names, key)} {counts[-1]}")
        return out


class Registry:
    """The metrics of one server; ``render`` writes them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: list[_Metric] = []

    def counter(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Counter:
        return self._add(Counter(name, help_text, labels, self._lock))

    def gauge(self, name: str, help_text: str) -> Gauge:
        return self._add(Gauge(name, help_text, (), self._lock))

    def histogram(self, name: str, help_text: str, buckets: Sequence[float], labels: Sequence[str] = ()) -> Histogram:
        return self._add(Histogram(name, help_text, labels, self._lock, buckets))

    def _add(self, metric):
        if any(existing.name == metric.name for existing in self._metrics):
            raise ValueError(f"metric {metric.name!r} is already registered")
        self._metrics.append(metric)
        return metric

    def render(self) -> str:
        lines: list[str] = []
        for metric in self._metrics:
            lines += metric.header() + metric.lines()  # type: ignore[attr-defined]
        return "\n".join(lines) + "\n"


class ServerMetrics:
    """The series ``rerank serve`` exports (names listed in docs/server.md)."""

    def __init__(self) -> None:
        self.registry = Registry()
        r = self.registry
        self.requests = r.counter(
            "rerank_requests_total", "HTTP requests by route and status code.", ("route", "status")
        )
        self.latency = r.histogram(
            "rerank_request_duration_seconds", "Time from request to response, by route.",
            (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), ("route",),
        )  # fmt: skip
        self.pairs = r.counter("rerank_pairs_scored_total", "(premise, hypothesis) pairs run through the model.")
        self.tokens = r.counter("rerank_tokens_scored_total", "Tokens (without padding) run through the model.")
        self.batch_pairs = r.histogram(
            "rerank_batch_pairs", "Pairs per model batch.", (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
        )
        self.batch_requests = r.histogram(
            "rerank_batch_requests", "Requests whose pairs shared one model batch.", (1, 2, 4, 8, 16, 32, 64)
        )
        self.queue_pairs = r.gauge("rerank_queue_pairs", "Pairs waiting for the model.")
        self.rejected = r.counter("rerank_queue_rejected_total", "Requests refused because the queue was full (503).")
        self.ready = r.gauge("rerank_ready", "1 once the model is loaded and warmed up, else 0.")
