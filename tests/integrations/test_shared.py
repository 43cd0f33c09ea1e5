"""What every adapter shares: no framework is imported by ``import rerank``, a missing extra is named, and a
relevance (1-logit) reranker goes through the adapters with its own probability and threshold."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rerank import RelevanceReranker
from tests.conftest import build_tiny_deberta

FRAMEWORKS = ("langchain_core", "langchain_classic", "llama_index", "haystack", "ray")
ADAPTERS = {"langchain": "langchain_core", "llama_index": "llama_index", "haystack": "haystack", "ray": "ray"}
EXTRAS = {"langchain": "langchain", "llama_index": "llamaindex", "haystack": "haystack", "ray": "ray"}


def test_importing_rerank_imports_no_framework():
    code = (
        "import sys, rerank, rerank.integrations, rerank.integrations._shared\n"
        f"print([name for name in {FRAMEWORKS!r} + ('torch',) if name in sys.modules])"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_a_missing_framework_names_the_extra(adapter):
    code = (
        f"import sys; sys.modules[{ADAPTERS[adapter]!r}] = None\n"
        "from rerank.errors import MissingDependencyError\n"
        f"try:\n    import rerank.integrations.{adapter}\n"
        "except MissingDependencyError as error:\n    print(error)"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert f"pip install 'nli-rerank[{EXTRAS[adapter]}]'" in output


@pytest.fixture(scope="module")
def relevance_reranker(tmp_path_factory) -> RelevanceReranker:
    directory = build_tiny_deberta(tmp_path_factory.mktemp("tiny-relevance"), {0: "LABEL_0"})
    return RelevanceReranker(str(directory), backend="torch", precision="fp32", show_progress=False)


def test_relevance_reranker_through_the_langchain_adapter(relevance_reranker):
    pytest.importorskip("langchain_core", reason="the langchain extra is not installed")
    from langchain_core.documents import Document

    from rerank.integrations.langchain import NLIRerankCompressor

    texts = ["Aspirin lowers the risk of heart attack.", "The cat sat on the mat.", "Walking is healthy."]
    documents = [Document(page_content=text, id=str(i)) for i, text in enumerate(texts)]
    expected = relevance_reranker.score("aspirin heart", texts)
    kept = NLIRerankCompressor(model=relevance_reranker, top_n=None).compress_documents(documents, "aspirin heart")
    assert [d.metadata["relevance_score"] for d in kept] == pytest.approx(sorted(expected, reverse=True), abs=1e-6)
    assert all("entailment" not in d.metadata for d in kept)
    cut = float(np.median(expected))
    strict = NLIRerankCompressor(model=relevance_reranker, top_n=None, min_score=cut)
    assert len(strict.compress_documents(documents, "aspirin heart")) == int((expected >= cut).sum())
    with pytest.raises(ValueError, match="min_entailment does not apply"):
        NLIRerankCompressor(model=relevance_reranker, min_entailment=0.5)
