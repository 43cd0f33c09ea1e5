"""Helpers for the eval tests: shared datasets (skipped when ../shared is absent) and tiny BEIR folders."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.conftest import SHARED_DIR, require


@pytest.fixture(scope="session")
def scifact_dir() -> Path:
    return require(SHARED_DIR / "data" / "retrieval" / "scifact")


@pytest.fixture(scope="session")
def cranfield_dir() -> Path:
    return require(SHARED_DIR / "data" / "retrieval" / "cranfield")


@pytest.fixture(scope="session")
def factcheck_dir() -> Path:
    return require(SHARED_DIR / "data" / "factcheck" / "scifact")


@pytest.fixture(scope="session")
def nli_dir() -> Path:
    return require(SHARED_DIR / "data" / "nli")


def write_beir(folder: Path, corpus: list[dict], queries: dict[str, str], qrels: dict[str, dict[str, int]]) -> Path:
    """Write a small BEIR folder (gzip corpus, queries.jsonl, qrels/test.tsv)."""
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "corpus.jsonl.gz", "wt", encoding="utf-8") as handle:
        for record in corpus:
            handle.write(json.dumps(record) + "\n")
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as handle:
        for qid, text in queries.items():
            handle.write(json.dumps({"_id": qid, "text": text}) + "\n")
    with (folder / "qrels" / "test.tsv").open("w", encoding="utf-8") as handle:
        handle.write("query-id\tcorpus-id\tscore\n")
        for qid, judged in qrels.items():
            for doc_id, grade in judged.items():
                handle.write(f"{qid}\t{doc_id}\t{grade}\n")
    return folder


TINY_CORPUS = [
    {"_id": "d1", "title": "Aspirin", "text": "Aspirin lowers the risk of heart attack in adults."},
    {"_id": "d2", "title": "Statins", "text": "Statins reduce cholesterol levels in the blood."},
    {"_id": "d3", "title": "Exercise", "text": "Regular exercise improves heart health. It also lowers stress."},
    {"_id": "d4", "title": "Cats", "text": "Cats sleep for most of the day."},
    {"_id": "d5", "title": "Ünïcode", "text": "Café owners serve naïve customers crème brûlée."},
]
TINY_QUERIES = {"q1": "Aspirin lowers heart attack risk.", "q2": "Statins lower cholesterol.", "q3": "unanswered query"}
TINY_QRELS = {"q1": {"d1": 2, "d3": 1}, "q2": {"d2": 1}, "q3": {"d4": 0}}


@pytest.fixture
def tiny_beir(tmp_path) -> Path:
    return write_beir(tmp_path / "tiny", TINY_CORPUS, TINY_QUERIES, TINY_QRELS)


@pytest.fixture(scope="session")
def mini_nli_model(mini_nli_dir):
    """The mini NLI model loaded once; build rerankers over it with NLIReranker(mini_nli_model, ...)."""
    from rerank.loading import load_model

    return load_model(str(mini_nli_dir), precision="fp32")  # fp32: compared with fp32 references to 1e-5
