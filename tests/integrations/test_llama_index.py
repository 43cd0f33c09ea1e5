"""LlamaIndex: NLIRerankPostprocessor alone, async, and as a query engine's node postprocessor. Nothing reaches for
a network model: Settings get a mock LLM, a mock embedding model and a whitespace tokenizer."""

from __future__ import annotations

import asyncio

import pytest

from rerank import NLIReranker

pytest.importorskip(
    "llama_index.core", reason="the llamaindex extra is not installed (pip install 'nli-rerank[llamaindex]')"
)
from llama_index.core import Settings, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode

from rerank.integrations.llama_index import NLIRerankPostprocessor

QUERY = "Aspirin prevents heart attacks."
TEXTS = {
    "u": "The cat sat on the mat.",
    "c": "Aspirin has no effect on heart attacks.",
    "s": "Aspirin lowers the risk of heart attack in men.",
}
# fp32 on torch: at bf16 ("auto" on CPUs with bf16 units) probabilities move by ~1e-3 with the batch a pair is in.
EXACT = {"backend": "torch", "precision": "fp32", "show_progress": False}


@pytest.fixture(autouse=True)
def offline_settings():
    """LlamaIndex's defaults are OpenAI models and a tiktoken tokenizer (downloaded): replace them for the test."""
    saved = (Settings._llm, Settings._embed_model, Settings._tokenizer)
    Settings.llm = MockLLM()
    Settings.embed_model = MockEmbedding(embed_dim=8)
    Settings.tokenizer = str.split
    yield
    Settings._llm, Settings._embed_model, Settings._tokenizer = saved


@pytest.fixture(scope="module")
def reranker(mini_nli_dir) -> NLIReranker:
    return NLIReranker(str(mini_nli_dir), fusion_weight=None, **EXACT)


def nodes(scores=(3.0, 2.0, 1.0)) -> list[NodeWithScore]:
    return [
        NodeWithScore(node=TextNode(id_=key, text=text, metadata={"source": key}), score=score)
        for (key, text), score in zip(TEXTS.items(), scores, strict=True)
    ]


def test_orders_cuts_and_scores_copies(reranker):
    given = nodes()
    kept = NLIRerankPostprocessor(reranker, top_n=2).postprocess_nodes(given, query_str=QUERY)
    assert [item.node.node_id for item in kept] == ["s", "c"]
    expected = reranker.score(QUERY, [item.node.get_content(metadata_mode=MetadataMode.EMBED) for item in given])
    for item, row in zip(kept, expected[[2, 1]], strict=True):
        meta = item.node.metadata
        assert item.score == pytest.approx(row[0], abs=1e-6) and meta["relevance_score"] == item.score
        assert (meta["entailment"], meta["neutral"], meta["contradiction"]) == pytest.approx(tuple(row), abs=1e-6)
        assert meta["source"] == item.node.node_id and "evidence" in meta and "fused_score" not in meta
        assert "entailment" not in item.node.get_content(metadata_mode=MetadataMode.LLM)  # hidden from the LLM
    assert [item.score for item in given] == [3.0, 2.0, 1.0] and given[2].node.metadata == {"source": "s"}


def test_reads_node_text_with_embed_metadata(reranker):
    item = NodeWithScore(node=TextNode(text="It lowers the risk of heart attack in men.", metadata={"drug": "Aspirin"}))
    (kept,) = NLIRerankPostprocessor(reranker).postprocess_nodes([item], query_str=QUERY)
    content = item.node.get_content(metadata_mode=MetadataMode.EMBED)
    assert "drug: Aspirin" in content
    assert kept.score == pytest.approx(reranker.score(QUERY, [content])[0, 0], abs=1e-6)


def test_thresholds_top_n_and_empty_input(reranker):
    postprocessor = NLIRerankPostprocessor(reranker, top_n=None, max_contradiction=0.5)
    assert [item.node.node_id for item in postprocessor.postprocess_nodes(nodes(), query_str=QUERY)] == ["s"]
    assert NLIRerankPostprocessor(reranker, min_entailment=0.99).postprocess_nodes(nodes(), query_str=QUERY) == []
    assert NLIRerankPostprocessor(reranker).postprocess_nodes([], query_str=QUERY) == []


def test_fusion_reads_the_retrieval_score(mini_nli_dir):
    postprocessor = NLIRerankPostprocessor(str(mini_nli_dir), top_n=3, keep_retrieval_score=True, settings=EXACT)
    kept = postprocessor.postprocess_nodes(nodes(scores=(1.0, 2.0, 30.0)), query_str=QUERY)
    assert kept[0].node.node_id == "s" and kept[0].node.metadata["retrieval_score"] == 30.0
    assert all("fused_score" in item.node.metadata for item in kept)
    fused = [item.node.metadata["fused_score"] for item in kept]
    assert fused == sorted(fused, reverse=True)


def test_async_path_and_missing_query(reranker):
    postprocessor = NLIRerankPostprocessor(reranker, top_n=3)
    got = asyncio.run(postprocessor.apostprocess_nodes(nodes(), query_bundle=QueryBundle(QUERY)))
    assert [(item.node.node_id, item.score) for item in got] == [
        (item.node.node_id, item.score) for item in postprocessor.postprocess_nodes(nodes(), query_str=QUERY)
    ]
    with pytest.raises(ValueError, match="needs the query"):
        postprocessor.postprocess_nodes(nodes())
    with pytest.raises(ValueError, match="min_score does not apply"):
        NLIRerankPostprocessor(reranker, min_score=0.3)


def test_query_engine_with_the_postprocessor(reranker):
    index = VectorStoreIndex([TextNode(id_=key, text=text) for key, text in TEXTS.items()])
    postprocessor = NLIRerankPostprocessor(reranker, top_n=2)
    engine = index.as_query_engine(similarity_top_k=3, node_postprocessors=[postprocessor], response_mode="no_text")
    response = engine.query(QUERY)
    assert [item.node.node_id for item in response.source_nodes] == ["s", "c"]
    assert NLIRerankPostprocessor.class_name() == "NLIRerankPostprocessor"
    assert postprocessor.to_dict()["top_n"] == 2
