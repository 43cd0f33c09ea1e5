"""BM25 against rank-bm25's BM25Okapi on the real SciFact corpus and its 300 test queries."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from retrievers import BM25Retriever, load_corpus

RELATIVE_TOLERANCE = 1e-6


def _test_queries(scifact_dir):
    texts = {}
    with (scifact_dir / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            texts[record["_id"]] = record["text"]
    with (scifact_dir / "qrels" / "test.tsv").open(encoding="utf-8") as handle:
        next(handle)
        ids = dict.fromkeys(line.split("\t")[0] for line in handle if line.strip())
    return [texts[query_id] for query_id in ids]


@pytest.mark.slow
def test_scores_and_top10_agree_with_rank_bm25_on_scifact(scifact_dir):
    documents = load_corpus(scifact_dir / "corpus.jsonl.gz")
    queries = _test_queries(scifact_dir)
    assert len(queries) == 300
    retriever = BM25Retriever(documents, show_progress=False)
    reference = BM25Okapi([retriever.tokenizer.tokenize(d.content) for d in documents], k1=1.5, b=0.75, epsilon=0.25)
    for query in queries:
        expected = reference.get_scores(retriever.tokenizer.tokenize(query))
        scores = retriever.scores(query)
        assert scores.dtype == np.float64
        np.testing.assert_allclose(scores, expected, rtol=RELATIVE_TOLERANCE, atol=1e-12, err_msg=query)
        top = retriever.retrieve(query, k=10)
        expected_order = np.lexsort((np.arange(len(expected)), -expected))[: len(top)]
        for candidate, position in zip(top, expected_order, strict=True):
            # identical order, except that documents whose scores tie may swap
            same = candidate.document.id == documents[position].id
            assert same or candidate.retriever_score == pytest.approx(expected[position], rel=RELATIVE_TOLERANCE)
