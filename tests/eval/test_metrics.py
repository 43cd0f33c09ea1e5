"""Ranking metrics: hand-computed cases, the registry, and agreement with pytrec_eval on SciFact and Cranfield."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eval import evaluate, load_beir, rank_documents, resolve_metric
from eval.metrics import average_precision, hit_rate, ndcg, precision, recall, reciprocal_rank

JUDGED = {"d1": 2, "d2": 1, "d9": 0}
RANKING = ["d3", "d1", "d9", "d2"]


def test_ndcg_hand_computed():
    dcg = 2 / math.log2(3) + 1 / math.log2(5)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert ndcg(RANKING, JUDGED) == pytest.approx(dcg / idcg)
    assert ndcg(RANKING, JUDGED, k=2) == pytest.approx((2 / math.log2(3)) / idcg)
    assert ndcg(RANKING, JUDGED, k=1) == 0.0
    assert ndcg(["d1", "d2"], JUDGED, k=10) == pytest.approx(1.0)


def test_binary_metrics_hand_computed():
    assert reciprocal_rank(RANKING, JUDGED) == 0.5
    assert reciprocal_rank(RANKING, JUDGED, k=1) == 0.0
    assert recall(RANKING, JUDGED, k=2) == 0.5
    assert recall(RANKING, JUDGED) == 1.0
    assert precision(RANKING, JUDGED, k=2) == 0.5
    assert precision(RANKING, JUDGED, k=10) == 0.2  # divided by k even when fewer were retrieved
    assert average_precision(RANKING, JUDGED) == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert hit_rate(RANKING, JUDGED, k=1) == 0.0
    assert hit_rate(RANKING, JUDGED, k=2) == 1.0


def test_metrics_on_empty_ranking_and_no_relevant_documents():
    for metric in (ndcg, reciprocal_rank, recall, precision, average_precision, hit_rate):
        assert metric([], JUDGED, 10) == 0.0
        assert metric(RANKING, {"d1": 0}, 10) == 0.0


def test_resolve_metric_names_and_errors():
    assert resolve_metric("nDCG@10") == ("ndcg", 10)
    assert resolve_metric("map") == ("map", None)
    assert resolve_metric("P@5") == ("precision", 5)
    with pytest.raises(ValueError, match=r"valid metrics: \['hit_rate', 'map', 'mrr', 'ndcg', 'precision', 'recall'\]"):
        resolve_metric("bleu@4")
    with pytest.raises(ValueError, match="positive integer"):
        resolve_metric("ndcg@0")


def test_evaluate_missing_query_counts_zero_and_extra_queries_are_ignored():
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}}
    run = {"q1": {"d1": 1.0}, "q_other": {"d2": 1.0}}
    result = evaluate(qrels, run, ["recall@10", "mrr"])
    assert result.aggregate == {"recall@10": 0.5, "mrr": 0.5}
    assert result.per_query["recall@10"] == {"q1": 1.0, "q2": 0.0}


def test_evaluate_breaks_ties_by_document_id_descending_like_trec_eval():
    assert rank_documents({"a": 1.0, "c": 1.0, "b": 2.0}) == ["b", "c", "a"]
    result = evaluate({"q": {"a": 1}}, {"q": {"a": 1.0, "c": 1.0}}, "mrr")
    assert result.aggregate["mrr"] == 0.5


def test_evaluate_rejects_bad_input():
    with pytest.raises(ValueError, match="qrels are empty"):
        evaluate({}, {}, ["map"])
    with pytest.raises(TypeError, match="run must be a dict"):
        evaluate({"q": {"d": 1}}, [("q", "d")], ["map"])
    with pytest.raises(ValueError, match="must be a number"):
        evaluate({"q": {"d": 1}}, {"q": {"d": float("nan")}}, ["map"])
    with pytest.raises(ValueError, match="unknown metric"):
        evaluate({"q": {"d": 1}}, {"q": {"d": 1.0}}, ["ndgc@10"])


def test_evaluate_does_not_mutate_inputs():
    qrels, run = {"q": {"d1": 1}}, {"q": {"d2": 2.0, "d1": 1.0}}
    evaluate(qrels, run, ["ndcg@10", "map"])
    assert qrels == {"q": {"d1": 1}} and run == {"q": {"d2": 2.0, "d1": 1.0}}


# Our name -> (pytrec_eval measure, its result key, top-n the run is cut to before pytrec_eval sees it).
PYTREC = {
    "ndcg@10": ("ndcg_cut", "ndcg_cut_10", None),
    "ndcg": ("ndcg", "ndcg", None),
    "mrr@10": ("recip_rank", "recip_rank", 10),
    "mrr": ("recip_rank", "recip_rank", None),
    "recall@100": ("recall", "recall_100", None),
    "recall@10": ("recall", "recall_10", None),
    "precision@10": ("P", "P_10", None),
    "map": ("map", "map", None),
    "hit_rate@10": ("success", "success_10", None),
}


def _random_run(dataset, seed: int, depth: int) -> dict[str, dict[str, float]]:
    """Tie-free scores over every judged document plus ``depth`` random others, so ranks are fully deterministic."""
    rng = np.random.default_rng(seed)
    ids = [d.id for d in dataset.corpus]
    run = {}
    for qid, judged in dataset.qrels.items():
        pool = list(dict.fromkeys([*judged, *rng.choice(ids, size=depth, replace=False).tolist()]))
        scores = rng.permutation(len(pool)) + 1.0
        run[qid] = {doc_id: float(score) for doc_id, score in zip(pool, scores, strict=True)}
    return run


def _bm25_run(dataset, k: int = 100) -> dict[str, dict[str, float]]:
    from eval import retrieval_run, retrieve_all
    from retrievers import BM25Retriever

    retriever = BM25Retriever(dataset.corpus, show_progress=False)
    queries = {qid: dataset.queries[qid] for qid in dataset.query_ids()}
    return retrieval_run(retrieve_all(retriever, queries, k, show_progress=False))


def _assert_agrees_with_pytrec_eval(qrels, run):
    pytrec_eval = pytest.importorskip("pytrec_eval", reason="pytrec-eval-terrier is not installed")
    ours = evaluate(qrels, run, list(PYTREC))
    checked = 0
    for name, (measure, key, cut) in PYTREC.items():
        given = run if cut is None else {q: {d: run[q][d] for d in rank_documents(run[q])[:cut]} for q in run}
        theirs = pytrec_eval.RelevanceEvaluator(qrels, {measure}).evaluate(given)
        for qid, values in theirs.items():
            assert ours.per_query[name][qid] == pytest.approx(values[key], abs=1e-6), (name, qid)
            checked += 1
    assert checked >= len(PYTREC) * 100


@pytest.mark.parametrize("seed", [0, 1])
def test_agrees_with_pytrec_eval_on_scifact_random_runs(scifact_dir, seed):
    dataset = load_beir(scifact_dir)
    _assert_agrees_with_pytrec_eval(dataset.qrels, _random_run(dataset, seed, depth=150))


def test_agrees_with_pytrec_eval_on_cranfield_graded_random_runs(cranfield_dir):
    dataset = load_beir(cranfield_dir)
    _assert_agrees_with_pytrec_eval(dataset.qrels, _random_run(dataset, 0, depth=150))


@pytest.mark.parametrize("name", ["scifact", "cranfield"])
def test_agrees_with_pytrec_eval_on_bm25_runs(scifact_dir, cranfield_dir, name):
    dataset = load_beir(scifact_dir if name == "scifact" else cranfield_dir)
    _assert_agrees_with_pytrec_eval(dataset.qrels, _bm25_run(dataset))


def test_agrees_with_pytrec_eval_when_scores_tie(cranfield_dir):
    dataset = load_beir(cranfield_dir)
    run = {q: {d: float(round(s / 50)) for d, s in scores.items()} for q, scores in _random_run(dataset, 3, 60).items()}
    assert any(len(set(s.values())) < len(s) for s in run.values())
    _assert_agrees_with_pytrec_eval(dataset.qrels, run)
