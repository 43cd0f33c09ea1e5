"""LangChain: NLIRerankCompressor alone, async, and in a ContextualCompressionRetriever over the project's BM25."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rerank import NLIReranker

pytest.importorskip(
    "langchain_core", reason="the langchain extra is not installed (pip install 'nli-rerank[langchain]')"
)
from langchain_core.documents import Document

from rerank.integrations.langchain import NLIRerankCompressor

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "langchain_rag.py"
QUERY = "Aspirin prevents heart attacks."
SUPPORTS = "Aspirin lowers the risk of heart attack in men."
CONTRADICTS = "Aspirin has no effect on heart attacks."
UNRELATED = "The cat sat on the mat."
# fp32 on torch: at bf16 ("auto" on CPUs with bf16 units) probabilities move by ~1e-3 with the batch a pair is in.
EXACT = {"backend": "torch", "precision": "fp32", "show_progress": False}


@pytest.fixture(scope="module")
def reranker(mini_nli_dir) -> NLIReranker:
    return NLIReranker(str(mini_nli_dir), **EXACT)


def documents() -> list[Document]:
    return [
        Document(page_content=UNRELATED, metadata={"source": "u"}, id="u"),
        Document(page_content=CONTRADICTS, metadata={"source": "c"}, id="c"),
        Document(page_content=SUPPORTS, metadata={"source": "s"}, id="s"),
    ]


def test_orders_cuts_and_reports_probabilities(reranker):
    given = documents()
    kept = NLIRerankCompressor(model=reranker, top_n=2).compress_documents(given, QUERY)
    assert [document.id for document in kept] == ["s", "c"]
    expected = reranker.score(QUERY, [SUPPORTS, CONTRADICTS])
    for document, row in zip(kept, expected, strict=True):
        meta = document.metadata
        assert meta["relevance_score"] == pytest.approx(row[0], abs=1e-6) and 0.0 <= meta["relevance_score"] <= 1.0
        assert (meta["entailment"], meta["neutral"], meta["contradiction"]) == pytest.approx(tuple(row), abs=1e-6)
        assert meta["evidence"]["text"] == document.page_content and meta["evidence"]["span"] == [
            0,
            len(meta["evidence"]["text"]),
        ]
        assert meta["source"] == document.id  # the document's own metadata is kept
        assert "fused_score" not in meta  # LangChain documents carry no retriever score to fuse
    assert [document.metadata for document in given] == [{"source": "u"}, {"source": "c"}, {"source": "s"}]


def test_thresholds_drop_contradicting_and_unsupported_documents(reranker):
    compressor = NLIRerankCompressor(model=reranker, top_n=None, max_contradiction=0.5)
    assert [document.id for document in compressor.compress_documents(documents(), QUERY)] == ["s"]
    assert NLIRerankCompressor(model=reranker, min_entailment=0.99).compress_documents(documents(), QUERY) == []
    assert NLIRerankCompressor(model=reranker).compress_documents([], QUERY) == []


def test_async_path_gives_the_same_documents(reranker):
    compressor = NLIRerankCompressor(model=reranker, top_n=3)
    assert asyncio.run(compressor.acompress_documents(documents(), QUERY)) == compressor.compress_documents(
        documents(), QUERY
    )


def test_decisiveness_order_reports_entailment_plus_contradiction(mini_nli_dir):
    compressor = NLIRerankCompressor(model=str(mini_nli_dir), top_n=1,
                                     settings={"order": "decisiveness", "show_progress": False})  # fmt: skip
    (best,) = compressor.compress_documents(documents(), QUERY)
    meta = best.metadata
    assert meta["relevance_score"] == pytest.approx(meta["entailment"] + meta["contradiction"])


def test_bad_settings_are_refused_with_clear_errors(reranker, tiny_deberta_dir):
    with pytest.raises(ValueError, match="min_score does not apply"):
        NLIRerankCompressor(model=reranker, min_score=0.5)
    with pytest.raises(ValueError, match="less than or equal to 1"):
        NLIRerankCompressor(model=reranker, min_entailment=1.5)
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        NLIRerankCompressor(model=reranker, top_k=3)
    with pytest.raises(ValueError, match="cannot apply to an already built"):
        NLIRerankCompressor(model=reranker, settings={"granularity": "passage"})
    with pytest.raises(TypeError, match="model must be a hub id"):
        NLIRerankCompressor(model=3)
    with pytest.raises(ValueError, match="query is empty"):
        NLIRerankCompressor(model=reranker).compress_documents(documents(), " ")
    with pytest.raises(TypeError, match="position 0 must be a langchain_core Document"):
        NLIRerankCompressor(model=reranker).compress_documents(["text"], QUERY)  # type: ignore[list-item]
    tiny = NLIRerankCompressor(model=tiny_deberta_dir, settings={"show_progress": False, "granularity": "passage"})
    assert len(tiny.compress_documents(documents(), QUERY)) == 3


def load_example():
    spec = importlib.util.spec_from_file_location("langchain_rag", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the example's annotations through it
    spec.loader.exec_module(module)
    return module


def test_contextual_compression_retriever_over_project_bm25(mini_nli_dir):
    retriever = load_example().build_retriever(str(mini_nli_dir), EXAMPLE.parent / "corpus.jsonl", k=5, top_n=2)
    kept = retriever.invoke(QUERY)
    assert 1 <= len(kept) <= 2
    assert all(document.metadata["contradiction"] <= 0.5 for document in kept)
    scores = [document.metadata["relevance_score"] for document in kept]
    assert scores == sorted(scores, reverse=True)
    assert all("bm25_rank" in document.metadata for document in kept)


def test_example_runs_offline(mini_nli_dir):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, str(EXAMPLE), "--model", str(mini_nli_dir)],
                            capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "query: Aspirin prevents heart attacks." in result.stdout and "relevance " in result.stdout
