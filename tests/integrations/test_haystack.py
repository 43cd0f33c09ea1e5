"""Haystack 3: NLIRanker alone, in a Pipeline after the in-memory BM25 retriever, saved and loaded (with the
module on the deserialisation allow-list), and run asynchronously (Pipeline.run_async, which calls run_async)."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("haystack", reason="the haystack extra is not installed: pip install 'nli-rerank[haystack]'")
from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
from haystack.core.errors import DeserializationError
from haystack.document_stores.in_memory import InMemoryDocumentStore

from rerank.integrations.haystack import NLIRanker

QUERY = "Aspirin prevents heart attacks."
TEXTS = {
    "u": "The cat sat on the mat.",
    "c": "Aspirin has no effect on heart attacks.",
    "s": "Aspirin lowers the risk of heart attack in men.",
}
# fp32 on torch, and ordering by entailment alone (no fusion with the retriever's score) unless a test asks.
EXACT = {"backend": "torch", "precision": "fp32", "show_progress": False, "fusion_weight": None}


@pytest.fixture(scope="module")
def ranker(mini_nli_dir) -> NLIRanker:
    ranker = NLIRanker(str(mini_nli_dir), top_k=10, settings=EXACT)
    ranker.warm_up()
    return ranker


def documents() -> list[Document]:
    return [Document(id=key, content=text, meta={"source": key}) for key, text in TEXTS.items()]


def test_run_orders_copies_with_scores(ranker):
    given = documents()
    kept = ranker.run(query=QUERY, documents=given, top_k=2)["documents"]
    assert [document.id for document in kept] == ["s", "c"]
    expected = ranker.reranker.score(QUERY, [TEXTS["s"], TEXTS["c"]])
    for document, row in zip(kept, expected, strict=True):
        assert document.score == pytest.approx(row[0], abs=1e-6) == document.meta["relevance_score"]
        assert [document.meta[k] for k in ("entailment", "neutral", "contradiction")] == pytest.approx(row, abs=1e-6)
        assert document.meta["source"] == document.id and document.meta["evidence"]["text"] == document.content
    assert all(document.score is None and document.meta == {"source": document.id} for document in given)


def test_run_time_values_override_init_values_and_zero_counts(mini_nli_dir, ranker):
    strict = NLIRanker(str(mini_nli_dir), top_k=1, score_threshold=0.9, settings=EXACT)
    assert [d.id for d in strict.run(query=QUERY, documents=documents())["documents"]] == ["s"]
    assert len(strict.run(query=QUERY, documents=documents(), top_k=3)["documents"]) == 1  # threshold 0.9 stays
    assert len(strict.run(query=QUERY, documents=documents(), top_k=3, score_threshold=0.0)["documents"]) == 3
    exact = ranker.run(query=QUERY, documents=documents())["documents"][1].score
    at_threshold = ranker.run(query=QUERY, documents=documents(), score_threshold=exact)["documents"]
    assert [d.id for d in at_threshold] == ["s", "c"]  # inclusive
    assert [d.id for d in ranker.run(query=QUERY, documents=documents(), max_contradiction=0.5)["documents"]] == ["s"]
    none = NLIRanker(str(mini_nli_dir), min_entailment=0.99, settings=EXACT)
    assert none.run(query=QUERY, documents=documents())["documents"] == []
    assert len(none.run(query=QUERY, documents=documents(), min_entailment=0.0)["documents"]) == 3


def test_duplicates_are_reranked_once(ranker):
    twice = [*documents(), Document(id="s", content=TEXTS["s"], score=5.0)]
    kept = ranker.run(query=QUERY, documents=twice)["documents"]
    assert [document.id for document in kept] == ["s", "c", "u"]
    assert "source" not in kept[0].meta  # the copy with the higher retriever score was kept


def test_bad_input_is_refused(mini_nli_dir, ranker):
    with pytest.raises(ValueError, match="no content"):
        ranker.run(query=QUERY, documents=[Document(id="x", content=None)])
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        ranker.run(query=QUERY, documents=documents(), top_k=0)
    with pytest.raises(ValueError, match="score_threshold must be a probability"):
        NLIRanker(str(mini_nli_dir), score_threshold=2.0)
    with pytest.raises(TypeError, match="model must be a hub id or a directory"):
        NLIRanker(ranker.reranker)  # type: ignore[arg-type]
    assert ranker.run(query=QUERY, documents=[])["documents"] == []


def pipeline(mini_nli_dir) -> Pipeline:
    store = InMemoryDocumentStore()
    store.write_documents(documents())
    pipe = Pipeline()
    pipe.add_component("retriever", InMemoryBM25Retriever(store, top_k=3))
    pipe.add_component("ranker", NLIRanker(str(mini_nli_dir), top_k=2, max_contradiction=0.5, settings=EXACT))
    pipe.connect("retriever.documents", "ranker.documents")
    return pipe


def test_pipeline_runs_and_round_trips_through_yaml(mini_nli_dir):
    pipe = pipeline(mini_nli_dir)
    result = pipe.run({"retriever": {"query": QUERY}, "ranker": {"query": QUERY}})
    assert [document.id for document in result["ranker"]["documents"]] == ["s"]
    saved = pipe.dumps()
    with pytest.raises(DeserializationError, match=r"rerank\.integrations\.haystack"):
        Pipeline.loads(saved)
    loaded = Pipeline.loads(saved, allowed_modules=["rerank.integrations.haystack"])
    assert loaded.get_component("ranker").to_dict() == pipe.get_component("ranker").to_dict()
    again = loaded.run({"retriever": {"query": QUERY}, "ranker": {"query": QUERY}})
    assert [(d.id, d.score) for d in again["ranker"]["documents"]] == [
        (d.id, d.score) for d in result["ranker"]["documents"]
    ]
    assert NLIRanker.from_dict(pipe.get_component("ranker").to_dict()).max_contradiction == 0.5


def test_pipeline_run_async(mini_nli_dir):
    store = InMemoryDocumentStore()
    store.write_documents(documents())
    pipe = Pipeline()
    pipe.add_component("retriever", InMemoryBM25Retriever(store, top_k=3))
    pipe.add_component("ranker", NLIRanker(str(mini_nli_dir), top_k=2, settings=EXACT))
    pipe.connect("retriever.documents", "ranker.documents")
    result = asyncio.run(pipe.run_async({"retriever": {"query": QUERY}, "ranker": {"query": QUERY}}))
    assert [document.id for document in result["ranker"]["documents"]] == ["s", "c"]
