"""The real server: `rerank serve` under uvicorn in a subprocess on a free loopback port, called over HTTP."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest

from rerank import NLIReranker
from tests.server.conftest import run_threads
from tests.server.live import live_server

KEY = "live-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def server(mini_nli_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("live") / "serve.log"
    args = ["--model", str(mini_nli_dir), "--backend", "torch", "--precision", "fp32", "--max-wait-ms", "20"]
    with live_server(args, log, env={"RERANK_API_KEY": KEY, "RERANK_MAX_DOCUMENTS": "50"}) as live:
        yield live


def test_shape_auth_limits_and_order_over_http(server, mini_model):
    documents = ["A man is playing a guitar on stage.", "A cat sleeps on the sofa.", "Nobody plays any music."]
    body = {"query": "A man plays music.", "documents": documents, "top_n": 2}
    assert httpx.post(server.url + "/rerank", json=body).status_code == 401
    response = httpx.post(server.url + "/rerank", json=body, headers=AUTH, timeout=60)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    expected = NLIReranker(mini_model, show_progress=False).rerank(body["query"], documents, top_k=2)
    assert [r["index"] for r in results] == [int(r.document.id) for r in expected if r.kept][:2]
    too_many = httpx.post(server.url + "/rerank", json={"query": "q", "documents": ["a"] * 51}, headers=AUTH)
    assert too_many.status_code == 422 and "max_documents" in too_many.json()["detail"]
    assert httpx.get(server.url + "/metrics", headers=AUTH).text.count("rerank_requests_total{") >= 2


def test_concurrent_clients_get_their_own_results(server, mini_model):
    reference = NLIReranker(mini_model, show_progress=False)
    queries = [f"Patient {i} took {drug}." for i, drug in enumerate(["aspirin", "statins", "insulin", "ibuprofen"] * 3)]
    documents = [[f"Patient {i} was given {q.split()[-1]}", f"Patient {i} refused all drugs.", "It rained."]
                 for i, q in enumerate(queries)]  # fmt: skip

    def call(i):
        body = {"query": queries[i], "documents": documents[i]}
        return httpx.post(server.url + "/rerank", json=body, headers=AUTH, timeout=120).json()

    for i, body in enumerate(run_threads(call, len(queries))):
        expected = reference.rerank(queries[i], documents[i])
        assert [r["index"] for r in body["results"]] == [int(r.document.id) for r in expected]
        assert [r["nli"]["entailment"] for r in body["results"]] == pytest.approx(
            [r.scores.entailment for r in expected], abs=1e-5
        )


def test_graceful_shutdown_finishes_the_request_in_flight(server):
    outcome = {}

    def slow_request():
        body = {"query": "A man plays music.", "documents": [f"Passage {i} about a guitar player." for i in range(40)]}
        outcome["response"] = httpx.post(server.url + "/rerank", json=body, headers=AUTH, timeout=120)

    thread = threading.Thread(target=slow_request)
    thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    # uvicorn shuts down gracefully, then re-raises the signal it caught, as a process stopped by SIGTERM does
    assert server.stop(timeout_s=90) in (0, -signal.SIGTERM)
    thread.join(30)
    assert outcome["response"].status_code == 200 and len(outcome["response"].json()["results"]) == 40
    assert time.monotonic() - started < 90
    assert "Application shutdown complete" in server.log.read_text()
