"""POST /classify and /answers: the same answers as rerank.classify and rerank.rank_answers, and their 4xx."""

from __future__ import annotations

import pytest

from rerank import NLIReranker, classify, rank_answers
from rerank_server import ServerSettings


@pytest.fixture
def client(serve, mini_model):
    return serve(mini_model, ServerSettings(max_documents=5, max_queued_pairs=12))


def test_classify_matches_the_task_call(client, mini_model):
    body = {"texts": ["I loved this film.", "The soup was cold."], "labels": ["positive", "negative", "food"]}
    response = client.post("/classify", json=body)
    assert response.status_code == 200, response.text
    got = response.json()
    expected = classify(body["texts"], body["labels"], NLIReranker(mini_model, show_progress=False))
    assert [r["labels"] for r in got["results"]] == [e.labels for e in expected]
    for row, reference in zip(got["results"], expected, strict=True):
        assert row["scores"] == pytest.approx(reference.scores, abs=1e-5)
    assert got["usage"]["pairs"] == 6
    multi = client.post("/classify", json={**body, "multi_label": True, "template": "The topic is {}."}).json()
    assert all(r["multi_label"] for r in multi["results"])


def test_answers_match_the_task_call(client, mini_model):
    body = {"question": "Which planet is the largest?", "answers": ["Mars", "Jupiter"],
            "context": "Jupiter is the largest planet. Mars is red."}  # fmt: skip
    response = client.post("/answers", json=body)
    assert response.status_code == 200, response.text
    reranker = NLIReranker(mini_model, show_progress=False)
    expected = rank_answers(body["question"], body["answers"], body["context"], reranker)
    got = response.json()["answers"]
    assert [a["answer"] for a in got] == [e.answer for e in expected]
    start, end = got[0]["evidence"]["span"]
    assert body["context"][start:end] == got[0]["evidence"]["text"]
    without = client.post("/answers", json={"question": "Which planet is largest?", "answers": ["Jupiter is."]})
    assert without.status_code == 200 and without.json()["answers"][0]["rank"] == 1


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("/classify", {"texts": [], "labels": ["a"]}, "texts"),
        ("/classify", {"texts": ["t"], "labels": []}, "labels"),
        ("/classify", {"texts": ["t", " "], "labels": ["a"]}, "texts[1]"),
        ("/classify", {"texts": ["t"] * 6, "labels": ["a"]}, "texts"),
        ("/classify", {"texts": ["t"] * 5, "labels": ["a", "b", "c"]}, "labels"),
        ("/classify", {"texts": ["t"], "labels": ["a"], "multi_label": "yes"}, "multi_label"),
        ("/classify", {"texts": "t", "labels": ["a"]}, "texts"),
        ("/answers", {"question": "", "answers": ["a"]}, "question"),
        ("/answers", {"question": "q", "answers": []}, "answers"),
        ("/answers", {"question": "q", "answers": ["a"], "context": "  "}, "context"),
        ("/answers", {"question": "q", "answers": ["a"], "top_n": 1}, "top_n"),
    ],
)
def test_bad_task_requests_name_the_field(client, route, body, field):
    response = client.post(route, json=body)
    assert response.status_code == 422, response.text
    assert any(e["field"] == field for e in response.json()["errors"]), response.json()


def test_a_bad_template_is_a_400(client):
    response = client.post("/classify", json={"texts": ["t"], "labels": ["a"], "template": "no field"})
    assert response.status_code == 400 and "{}" in response.json()["detail"]
