"""Fixtures of the server tests: the mini NLI model loaded once, and apps built around it."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the server needs the serve extra: pip install 'nli-rerank[serve]'")

from fastapi.testclient import TestClient

from rerank_server import RerankerSpec, ServerSettings, Service, create_app


@pytest.fixture(scope="session")
def mini_model(mini_nli_dir: Path):
    """The mini NLI model, loaded once with torch fp32 (the same arithmetic in the server and the reference)."""
    from rerank.loading import load_model

    return load_model(str(mini_nli_dir), backend="torch", precision="fp32")


class SlowRunner:
    """A backend runner that sleeps before each batch and can be made to fail on one token id."""

    def __init__(self, runner, delay_s: float = 0.0, poison_id: int | None = None):
        self._runner, self.delay_s, self.poison_id = runner, delay_s, poison_id
        self.backend, self.precision, self.input_names = runner.backend, runner.precision, runner.input_names
        self.calls = 0

    def __call__(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        self.calls += 1
        time.sleep(self.delay_s)
        if self.poison_id is not None and (np.asarray(features["input_ids"]) == self.poison_id).any():
            raise RuntimeError("the model refused this batch")
        return self._runner(features)


def with_runner(loaded, runner):
    return dataclasses.replace(loaded, runner=runner)


@pytest.fixture
def serve() -> Iterator[Callable[..., TestClient]]:
    """serve(model, settings=..., **spec) -> a TestClient of a started app whose model is loaded and warmed."""
    clients: list[TestClient] = []

    def start(model: Any, settings: ServerSettings | None = None, wait: bool = True, **spec: Any) -> TestClient:
        service = Service(RerankerSpec(model=model, **spec), settings or ServerSettings())
        client = TestClient(create_app(service), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        if wait:
            assert service.wait(120), f"the model did not load: {service.error!r}"
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


def run_threads(function: Callable[[int], Any], n: int) -> list[Any]:
    """function(0..n-1) in n threads started together; results in order (exceptions re-raised)."""
    results: list[Any] = [None] * n
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def target(i: int) -> None:
        try:
            barrier.wait()
            results[i] = function(i)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    if errors:
        raise errors[0]
    return results
