"""POST /rerank, /verify, /search and the GET routes through FastAPI's TestClient, on the mini NLI model."""

from __future__ import annotations

import pytest

from rerank import NLIReranker
from rerank.records import Document
from rerank_server import ServerSettings
from rerank_server.settings import CPU_BATCH_TOKENS
from tests.server.conftest import SlowRunner, run_threads, with_runner

QUERY = "Aspirin prevents heart attacks."
DOCUMENTS = [
    "The weather was sunny all week.",
    "A daily aspirin cut heart attacks by a third. Side effects were rare.",
    "Aspirin increases the risk of heart attacks.",
    "Bananas are yellow.",
]


def test_rerank_shape_and_order_match_the_reranker(serve, mini_model):
    client = serve(mini_model)
    response = client.post("/rerank", json={"query": QUERY, "documents": DOCUMENTS, "return_documents": True})
    assert response.status_code == 200, response.text
    body = response.json()
    reference = NLIReranker(mini_model, show_progress=False)
    expected = reference.rerank(QUERY, DOCUMENTS)
    assert [r["index"] for r in body["results"]] == [int(r.document.id) for r in expected]
    assert body["model"].endswith("mini-nli-minilm-l6")
    # four documents, one of two sentences: the pairs the reranker's segment pre-selection scores
    pairs = sum(reference.pair_count(Document(id=str(i), text=text)) for i, text in enumerate(DOCUMENTS))
    assert pairs in (4, 5) and body["usage"]["pairs"] == pairs and body["usage"]["tokens"] > 20
    for row, reference in zip(body["results"], expected, strict=True):
        assert row["relevance_score"] == pytest.approx(reference.scores.entailment, abs=1e-5)
        assert 0.0 <= row["relevance_score"] <= 1.0
        assert row["score"] == pytest.approx(reference.score, abs=1e-5)  # fused value kept apart
        assert set(row["nli"]) == {"entailment", "neutral", "contradiction"}
        assert row["kept"] is True
        assert row["document"] == {"text": DOCUMENTS[row["index"]]}
        start, end = row["evidence"]["span"]
        assert DOCUMENTS[row["index"]][start:end] == row["evidence"]["text"]


def test_top_n_thresholds_metadata_and_filtered_results(serve, mini_model):
    client = serve(mini_model, fusion_weight=None)
    documents = [
        {"text": text, "id": f"doc-{i}", "source": "trial", "year": 2020 + i} for i, text in enumerate(DOCUMENTS)
    ]
    body = client.post(
        "/rerank",
        json={"query": QUERY, "documents": documents, "top_n": 1, "return_documents": True, "min_entailment": 0.5,
              "include_filtered": True},
    ).json()  # fmt: skip
    kept = [r for r in body["results"] if r["kept"]]
    assert len(kept) == 1 and kept[0]["id"] == f"doc-{kept[0]['index']}" and "score" not in kept[0]
    assert kept[0]["document"] == documents[kept[0]["index"]]  # extra fields come back as the document's metadata
    dropped = [r for r in body["results"] if not r["kept"]]
    assert dropped and all("min_entailment 0.5" in r["filtered_by"][0] for r in dropped)
    plain = client.post("/rerank", json={"query": QUERY, "documents": DOCUMENTS, "min_entailment": 0.5}).json()
    assert all(r["kept"] for r in plain["results"]) and "document" not in plain["results"][0]


def test_model_field_must_name_the_served_model(serve, mini_model):
    client = serve(mini_model)
    ok = client.post("/rerank", json={"model": "mini-nli-minilm-l6", "query": QUERY, "documents": ["a b"]})
    assert ok.status_code == 200
    wrong = client.post("/rerank", json={"model": "rerank-english-v3.0", "query": QUERY, "documents": ["a b"]})
    assert wrong.status_code == 400 and "one model per server" in wrong.json()["detail"]


BAD_REQUESTS = [
    ({"query": "", "documents": ["a"]}, 422, "query"),
    ({"query": "  \u200b ", "documents": ["a"]}, 422, "query"),
    ({"query": "q", "documents": []}, 422, "documents"),
    ({"query": "q", "documents": "just one string"}, 422, "documents"),
    ({"query": "q", "documents": [1]}, 422, "documents[0]"),
    ({"query": "q", "documents": [{"id": "x"}]}, 422, "documents[0].text"),
    ({"query": "q", "documents": ["ok", "   "]}, 422, "documents[1]"),
    ({"query": "q", "documents": [{"text": "a", "id": 5}]}, 422, "documents[0].id"),
    ({"query": 3, "documents": ["a"]}, 422, "query"),
    ({"documents": ["a"]}, 422, "query"),
    ({"query": "q", "documents": ["a"], "top_k": 3}, 422, "top_k"),
    ({"query": "q", "documents": ["a"], "top_n": 0}, 422, "top_n"),
    ({"query": "q", "documents": ["a"], "top_n": "2"}, 422, "top_n"),
    ({"query": "q", "documents": ["a"], "return_documents": "yes"}, 422, "return_documents"),
    ({"query": "q", "documents": ["a"], "min_entailment": 1.5}, 422, "min_entailment"),
    ({"query": "q", "documents": ["a"], "min_score": 0.5}, 422, "min_score"),
    ({"query": "q", "documents": ["a" * 2001]}, 422, "documents[0]"),
    ({"query": "q" * 201, "documents": ["a"]}, 422, "query"),
    ({"query": "q", "documents": ["a"] * 11}, 422, "documents"),
]


@pytest.mark.parametrize(("body", "status", "field"), BAD_REQUESTS)
def test_bad_requests_are_4xx_naming_the_field(serve, mini_model, body, status, field):
    client = serve(mini_model, ServerSettings(max_documents=10, max_document_chars=2000, max_query_chars=200))
    response = client.post("/rerank", json=body)
    assert response.status_code == status, response.text
    error = response.json()
    assert field in error["detail"]
    assert any(e["field"] == field for e in error["errors"]), error


def test_bodies_that_are_not_json_or_too_big(serve, mini_model):
    client = serve(mini_model, ServerSettings(max_body_bytes=2048))
    headers = {"content-type": "application/json"}
    latin1 = client.post(
        "/rerank", content='{"query": "caf\xe9", "documents": ["a"]}'.encode("latin-1"), headers=headers
    )
    assert latin1.status_code == 400 and "UTF-8" in latin1.json()["detail"]
    broken = client.post("/rerank", content=b'{"query": "q", "documents": [', headers=headers)
    assert broken.status_code == 422 and "invalid JSON" in broken.json()["detail"]
    big = client.post("/rerank", json={"query": "q", "documents": ["x" * 3000]})
    assert big.status_code == 413 and "max_body_bytes" in big.json()["detail"]
    assert client.post("/rerank", json={"query": QUERY, "documents": ["ok"]}).status_code == 200


def test_a_lone_surrogate_is_refused(serve, mini_model):
    client = serve(mini_model)
    raw = b'{"query": "\\ud800 lone surrogate", "documents": ["a"]}'
    response = client.post("/rerank", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "query"


def test_a_query_too_long_for_the_model_is_a_400_not_a_500(serve, mini_model):
    client = serve(mini_model, ServerSettings(max_query_chars=10_000))
    response = client.post("/rerank", json={"query": "word " * 600, "documents": ["a passage"]})
    assert response.status_code == 400 and "max_length" in response.json()["detail"]


def test_auth_is_required_on_api_routes_only(serve, mini_model):
    client = serve(mini_model, ServerSettings(api_key="s3cret"))
    body = {"query": QUERY, "documents": ["a passage"]}
    assert client.post("/rerank", json=body).status_code == 401
    wrong = client.post("/rerank", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert client.post("/rerank", json=body, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/metrics").status_code == 401 and client.get("/info").status_code == 401
    assert client.get("/healthz").status_code == 200 and client.get("/").status_code == 200


def test_healthz_is_503_until_the_model_is_loaded_and_warm(serve, mini_model):
    client = serve(with_runner(mini_model, SlowRunner(mini_model.runner, delay_s=1.0)), wait=False)
    first = client.get("/healthz")
    assert first.status_code == 503 and first.json()["status"] == "loading"
    assert client.post("/rerank", json={"query": "q", "documents": ["a"]}).status_code == 503
    client.app.state.service.wait(60)
    assert client.get("/healthz").json() == {"status": "ok", "model": mini_model.source}


def test_queue_full_is_503_with_retry_after_and_timeout_is_504(serve, mini_model):
    slow = with_runner(mini_model, SlowRunner(mini_model.runner, delay_s=0.6))
    client = serve(slow, ServerSettings(max_queued_pairs=2, request_timeout_s=5))
    body = {"query": QUERY, "documents": ["one passage.", "another passage."]}
    statuses = run_threads(lambda i: client.post("/rerank", json=body), 4)
    codes = sorted(r.status_code for r in statuses)
    assert 200 in codes and 503 in codes, codes
    refused = next(r for r in statuses if r.status_code == 503)
    assert refused.headers["retry-after"] == "1" and "retry later" in refused.json()["detail"]
    hurried = serve(slow, ServerSettings(request_timeout_s=0.2))
    late = hurried.post("/rerank", json=body)
    assert late.status_code == 504 and "request_timeout_s" in late.json()["detail"]


def test_a_model_error_in_one_request_spares_the_others(serve, mini_model):
    poison = mini_model.tokenizer.convert_tokens_to_ids("zebra")
    runner = SlowRunner(mini_model.runner, delay_s=0.05, poison_id=poison)
    client = serve(with_runner(mini_model, runner), ServerSettings(max_wait_ms=50))
    texts = ["A zebra has stripes." if i == 3 else f"Passage number {i} about aspirin." for i in range(6)]
    responses = run_threads(lambda i: client.post("/rerank", json={"query": QUERY, "documents": [texts[i]]}), 6)
    assert [r.status_code for r in responses] == [200, 200, 200, 500, 200, 200]
    assert "other requests are unaffected" in responses[3].json()["detail"]


def test_concurrent_requests_get_their_own_results(serve, mini_model):
    client = serve(mini_model, ServerSettings(max_wait_ms=20))
    reference = NLIReranker(mini_model, show_progress=False)
    queries = [f"Patient {i} took aspirin." for i in range(8)]
    docs = [[f"Patient {i} took aspirin daily.", f"Patient {i} never took aspirin.", "Bananas are yellow."]
            for i in range(8)]  # fmt: skip
    responses = run_threads(lambda i: client.post("/rerank", json={"query": queries[i], "documents": docs[i]}), 8)
    for i, response in enumerate(responses):
        expected = reference.rerank(queries[i], docs[i])
        got = response.json()["results"]
        assert [r["index"] for r in got] == [int(r.document.id) for r in expected]
        assert [r["nli"]["entailment"] for r in got] == pytest.approx([r.scores.entailment for r in expected], abs=1e-5)
    batches = client.app.state.service.metrics.batch_requests
    assert batches.count() >= 1


def test_verify_route(serve, mini_model):
    client = serve(mini_model)
    response = client.post(
        "/verify", json={"claim": "Aspirin prevents heart attacks.", "evidence": [DOCUMENTS[1], {"text": DOCUMENTS[3],
                                                                                               "id": "bananas"}]},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    verdict = response.json()
    assert verdict["label"] in {"SUPPORTS", "REFUTES", "NOT_ENOUGH_INFO"} and 0 <= verdict["confidence"] <= 1
    given = {"0": DOCUMENTS[1], "bananas": DOCUMENTS[3]}  # the client's id, else the position
    for item in verdict["evidence"]:
        start, end = item["span"]
        assert given[item["document_id"]][start:end] == item["text"]
    assert verdict["usage"]["pairs"] == 3
    bad = client.post("/verify", json={"claim": "", "evidence": ["a"]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "claim"
    assert client.post("/verify", json={"claim": "c", "evidence": [], "extra": 1}).status_code == 422


def test_search_with_an_index(serve, mini_model, tmp_path):
    from retrievers import BM25Retriever

    corpus = [Document(id=f"d{i}", text=text, title="Trial" if i == 1 else None) for i, text in enumerate(DOCUMENTS)]
    BM25Retriever(corpus).save(tmp_path / "index")
    client = serve(mini_model, ServerSettings(index=str(tmp_path / "index")))
    body = client.post("/search", json={"query": "aspirin heart attacks", "k": 3, "top_n": 2}).json()
    assert [row["rank"] for row in body["retrieved"]] == list(range(1, len(body["retrieved"]) + 1))
    assert {row["id"] for row in body["retrieved"]} >= {"d1", "d2"}
    assert {row["id"] for row in body["results"]} <= {row["id"] for row in body["retrieved"]}
    assert len(body["results"]) == 2 and all("retriever_rank" in r and r["document"]["text"] for r in body["results"])
    assert client.post("/search", json={"query": "q", "k": 5000}).status_code == 422
    assert client.get("/info").json()["index"] is True


def test_search_without_an_index_is_404(serve, mini_model):
    client = serve(mini_model)
    response = client.post("/search", json={"query": "aspirin"})
    assert response.status_code == 404 and "--index" in response.json()["detail"]


def test_metrics_in_prometheus_text_format(serve, mini_model):
    client = serve(mini_model)
    client.post("/rerank", json={"query": QUERY, "documents": DOCUMENTS})
    client.post("/rerank", json={"query": "", "documents": DOCUMENTS})
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert 'rerank_requests_total{route="/rerank",status="200"} 1' in text
    assert 'rerank_requests_total{route="/rerank",status="422"} 1' in text
    for name in ("rerank_request_duration_seconds_bucket", "rerank_pairs_scored_total", "rerank_tokens_scored_total",
                 "rerank_batch_pairs_bucket", "rerank_queue_pairs", "rerank_ready 1"):  # fmt: skip
        assert name in text


def test_openapi_and_info(serve, mini_model):
    client = serve(mini_model)
    schema = client.get("/openapi.json").json()
    assert {"/rerank", "/search", "/verify", "/healthz"} <= set(schema["paths"])
    for page, script in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = client.get(page).text  # scripts from the server itself, not a CDN
        assert f"/docs/assets/{script}" in html and "cdn" not in html.lower()
        assert client.get(f"/docs/assets/{script}").status_code == 200
    info = client.get("/info").json()
    assert info["kind"] == "nli" and info["thresholds"] == ["max_contradiction", "min_entailment"]
    assert (info["backend"], info["precision"]) == (mini_model.runner.backend, mini_model.runner.precision)
    assert info["batching"]["enabled"] is True
    assert info["batching"]["batch_tokens"] == CPU_BATCH_TOKENS  # the model runs on the CPU


def test_batching_settings_reach_the_worker(serve, mini_model):
    settings = ServerSettings(batching=False, batch_tokens=512, max_batch_pairs=8, lookahead_pairs=32)
    batching = serve(mini_model, settings).get("/info").json()["batching"]
    assert batching == {"enabled": False, "batch_tokens": 512, "max_batch_pairs": 8, "lookahead_pairs": 32,
                        "min_row_fill": 0.7, "max_wait_ms": 5.0}  # fmt: skip


def test_a_relevance_model_returns_relevance_score_only(serve, tmp_path):
    from rerank.loading import load_model
    from tests.conftest import build_tiny_deberta

    directory = build_tiny_deberta(tmp_path / "relevance", {0: "LABEL_0"})
    client = serve(load_model(str(directory), backend="torch", precision="fp32"))
    body = client.post("/rerank", json={"query": "q", "documents": ["a b", "c d"], "min_score": 0.0}).json()
    assert all(set(r) == {"index", "relevance_score", "kept"} for r in body["results"])
    assert client.post("/rerank", json={"query": "q", "documents": ["a"], "min_entailment": 0.5}).status_code == 422
    assert client.post("/verify", json={"claim": "c", "evidence": ["a"]}).status_code == 400


def test_tiny_deberta_nli_model_is_served(serve, tiny_deberta_dir):
    from rerank.loading import load_model

    client = serve(load_model(str(tiny_deberta_dir), backend="torch", precision="fp32"))
    body = client.post("/rerank", json={"query": "q", "documents": ["first passage.", "second one."]}).json()
    assert len(body["results"]) == 2 and all(0 <= r["relevance_score"] <= 1 for r in body["results"])
