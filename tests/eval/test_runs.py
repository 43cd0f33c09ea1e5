"""Staged runs: retrieval, cached scoring and model-free reordering that matches the reranker's own order."""

from __future__ import annotations

import numpy as np
import pytest

from eval import (
    CachedScorer,
    Retrieved,
    Scored,
    entailment_key,
    fused_key,
    kept_documents,
    relevance_key,
    rerank_run,
    retrieval_run,
    retrieve_all,
    run_from_rankings,
    score_all,
)
from rerank.records import Candidate, Document

from .conftest import TINY_CORPUS


def candidates(scores: list[float]) -> list[Candidate]:
    return [
        Candidate(
            document=Document(id=f"d{i}", text=f"text {i}"), retriever="bm25", retriever_score=s, retriever_rank=i
        )
        for i, s in enumerate(scores, start=1)
    ]


def test_rerank_run_reorders_the_head_and_keeps_the_tail_in_retriever_order():
    retrieved = Retrieved({"q": candidates([9.0, 8.0, 7.0, 6.0, 5.0])}, {"q": 0.0})
    scored = Scored({"q": np.array([0.1, 0.9, 0.5])}, {"q": 0.0}, {"q": 3}, depth=3)
    run = rerank_run(retrieved, scored, relevance_key)
    assert sorted(run["q"], key=run["q"].get, reverse=True) == ["d2", "d3", "d1", "d4", "d5"]
    assert retrieval_run(retrieved, k=2) == {"q": {"d1": 2.0, "d2": 1.0}}


def test_entailment_ties_go_to_the_better_retriever_rank_and_empty_lists_work():
    retrieved = Retrieved({"q": candidates([3.0, 2.0, 1.0]), "empty": []}, {"q": 0.0, "empty": 0.0})
    rows = np.array([[0.5, 0.4, 0.1], [0.7, 0.2, 0.1], [0.5, 0.4, 0.1]])
    scored = Scored({"q": rows, "empty": np.empty((0, 3))}, {}, {}, depth=3)
    run = rerank_run(retrieved, scored, entailment_key)
    assert sorted(run["q"], key=run["q"].get, reverse=True) == ["d2", "d1", "d3"]
    assert run["empty"] == {}
    assert kept_documents(retrieved, scored, min_entailment=0.6) == {"q": {"d2"}, "empty": set()}
    assert kept_documents(retrieved, scored, max_contradiction=0.05) == {"q": set(), "empty": set()}


def test_fused_key_is_the_rerankers_formula():
    cands = candidates([10.0, 0.0])
    rows = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    # z-scores of (10, 0) are (+1, -1): weight 1 ties them (d1 wins on rank), weight 3 lifts d2
    assert fused_key(1.0)(cands, rows).tolist() == [1.0, 0.0]
    assert fused_key(3.0)(cands, rows).tolist() == [1.0, 2.0]


def test_run_from_rankings_is_tie_free():
    assert run_from_rankings({"q": ["b", "a", "c"]}) == {"q": {"b": 3.0, "a": 2.0, "c": 1.0}}


def test_score_all_rejects_bad_depth():
    with pytest.raises(ValueError, match="depth must be a positive int"):
        score_all(object(), {}, Retrieved({}, {}), depth=0)


@pytest.mark.parametrize("weight", [None, 2.0])
def test_staged_order_equals_nli_reranker_order(mini_nli_model, tmp_path, weight):
    from rerank import NLIReranker
    from retrievers import BM25Retriever

    documents = [Document(id=r["_id"], text=r["text"], title=r["title"]) for r in TINY_CORPUS]
    retriever = BM25Retriever(documents, show_progress=False)
    reranker = NLIReranker(mini_nli_model, granularity="sentence", fusion_weight=weight, show_progress=False)
    queries = {"q1": "Exercise is good for the heart.", "q2": "Aspirin reduces heart attacks."}
    retrieved = retrieve_all(retriever, queries, k=5, show_progress=False)
    scorer = CachedScorer(reranker, tmp_path / "scores.sqlite")
    scored = score_all(scorer, queries, retrieved, depth=5, show_progress=False)
    run = rerank_run(retrieved, scored, entailment_key if weight is None else fused_key(weight))
    for qid, text in queries.items():
        expected = [r.document.id for r in reranker.rerank(text, retrieved.candidates[qid])]
        assert sorted(run[qid], key=run[qid].get, reverse=True) == expected
        assert scored.pairs[qid] >= len(retrieved.candidates[qid])
    again = score_all(scorer, queries, retrieved, depth=5, show_progress=False)
    assert scorer.misses == sum(len(c) for c in retrieved.candidates.values())
    assert again.seconds == scored.seconds and again.pairs == scored.pairs
