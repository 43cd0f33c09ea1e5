from __future__ import annotations

import pytest

from rerank import Candidate, Document, NLIReranker, Pipeline
from rerank.loading import load_model


class ListRetriever:
    """A retriever over a fixed ranked list: returns its first k documents with descending scores."""

    def __init__(self, texts):
        self.documents = [Document(id=f"d{i}", text=text) for i, text in enumerate(texts)]
        self.calls = []

    def retrieve(self, query, k):
        self.calls.append((query, k))
        return [
            Candidate(
                document=d, retriever="list", retriever_score=float(len(self.documents) - i), retriever_rank=i + 1
            )
            for i, d in enumerate(self.documents[:k])
        ]


TEXTS = ["A man is playing a guitar on stage.", "The man is famous.", "Nobody is playing music.", "It is raining."]


@pytest.fixture(scope="module")
def mini_reranker(mini_nli_dir):
    return NLIReranker(
        load_model(str(mini_nli_dir), precision="fp32"), granularity="passage", fusion_weight=None, show_progress=False
    )


def test_search_retrieves_k_and_returns_top_k_reranked(mini_reranker):
    retriever = ListRetriever(TEXTS)
    pipeline = Pipeline(retriever, mini_reranker, k=3, top_k=2)
    results = pipeline.search("A man is playing an instrument.")
    assert retriever.calls == [("A man is playing an instrument.", 3)]
    assert [r.rank for r in results] == [1, 2] and results[0].document.id == "d0"
    assert all(r.kept for r in results)


def test_thresholds_flow_through_to_the_reranker(mini_reranker):
    pipeline = Pipeline(ListRetriever(TEXTS), mini_reranker, k=4, top_k=4, max_contradiction=0.5)
    results = pipeline.search("A man is playing an instrument.")
    assert "d2" in {r.document.id for r in results if not r.kept}


def test_search_many_keeps_query_order(mini_reranker):
    pipeline = Pipeline(ListRetriever(TEXTS), mini_reranker, k=4, top_k=1)
    queries = ["It is raining outside.", "A man is playing an instrument."]
    tops = [results[0].document.id for results in pipeline.search_many(queries)]
    assert tops == ["d3", "d0"]
    with pytest.raises(TypeError, match="list of queries"):
        pipeline.search_many("one query")


def test_retrieval_only_pipeline():
    pipeline = Pipeline(ListRetriever(TEXTS), None, k=3, top_k=2)
    assert [c.document.id for c in pipeline.search("anything")] == ["d0", "d1"]


def test_pipeline_argument_checks():
    with pytest.raises(TypeError, match="retrieve"):
        Pipeline(object())
    with pytest.raises(TypeError, match="rerank"):
        Pipeline(ListRetriever(TEXTS), reranker=object())
    with pytest.raises(ValueError, match="k must be >= 1"):
        Pipeline(ListRetriever(TEXTS), k=0)
    with pytest.raises(ValueError, match="does not apply to a pipeline without a reranker"):
        Pipeline(ListRetriever(TEXTS), min_entailment=0.5)
    with pytest.raises(ValueError, match="query is empty"):
        Pipeline(ListRetriever(TEXTS)).search("")
