"""Comparisons: means, differences, p-values, latency, markdown/JSON/PNG output, pipelines run end to end."""

from __future__ import annotations

import json

import pytest

from eval import SystemRun, compare, ranking_of, run_pipeline
from eval.compare import Comparison
from rerank.records import Candidate, Document

QRELS = {f"q{i}": {f"d{i}": 1} for i in range(20)}


def system(name: str, hit_rank: int, seconds: float = 0.01, pairs: int = 0) -> SystemRun:
    """Every query's relevant document at ``hit_rank`` among 10 results."""
    run = {}
    for qid, judged in QRELS.items():
        relevant = next(iter(judged))
        ids = [f"x{j}" for j in range(9)]
        ids.insert(hit_rank - 1, relevant)
        run[qid] = {doc_id: float(10 - j) for j, doc_id in enumerate(ids)}
    return SystemRun(name, run, {q: seconds for q in QRELS}, pairs=pairs, model_seconds=0.5 if pairs else 0.0)


def test_compare_against_a_baseline():
    report = compare([system("bm25", 4), system("same", 4), system("better", 1, 0.2, pairs=100)], QRELS,
                     ["mrr@10", "recall@10"], baseline="bm25", n_resamples=500)  # fmt: skip
    rows = {row["name"]: row for row in report.rows}
    assert rows["bm25"]["mean"]["mrr@10"] == pytest.approx(0.25)
    assert rows["same"]["difference"]["mrr@10"] == 0.0 and rows["same"]["p_t"]["mrr@10"] == 1.0
    assert rows["same"]["p_permutation"]["mrr@10"] == 1.0
    assert rows["better"]["difference"]["mrr@10"] == pytest.approx(0.75)
    assert rows["better"]["p_t"]["mrr@10"] == 0.0 and rows["better"]["p_permutation"]["mrr@10"] < 0.01
    assert rows["better"]["difference"]["recall@10"] == 0.0
    assert rows["better"]["latency_ms_p50"] == pytest.approx(200.0) and rows["better"]["pairs_per_second"] == 200.0
    assert rows["bm25"]["pairs_per_second"] is None
    table = report.to_markdown()
    assert "| bm25 (baseline) | 0.2500 | 1.0000 |" in table
    assert "1.0000 (+0.7500; p 0 / 0.002)" in table


def test_json_and_plot(tmp_path):
    report = compare([system("a", 2), system("b", 1)], QRELS, ["ndcg@10"], n_resamples=100)
    assert report.baseline == "a"
    payload = json.loads(report.save_json(tmp_path / "out" / "r.json").read_text())
    assert payload["per_query"]["b"]["ndcg@10"]["q3"] == 1.0 and payload["n_queries"] == 20
    pytest.importorskip("matplotlib")
    png = report.plot_differences(tmp_path / "diff.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="was not computed"):
        report.plot_differences(tmp_path / "x.png", metric="map")


def test_compare_errors():
    with pytest.raises(ValueError, match="no systems"):
        compare([], QRELS, ["map"])
    with pytest.raises(ValueError, match="unique"):
        compare([system("a", 1), system("a", 2)], QRELS, ["map"])
    with pytest.raises(ValueError, match=r"baseline 'zz' is not one of the systems \['a'\]"):
        compare([system("a", 1)], QRELS, ["map"], baseline="zz")
    assert isinstance(compare([system("a", 1)], QRELS, ["map"], n_resamples=10), Comparison)


def test_ranking_of_reads_every_result_kind():
    doc = Document(id="d1", text="t")
    cands = [Candidate(document=Document(id="d2", text="t"), retriever_rank=2), Candidate(document=doc)]
    assert ranking_of(cands) == ["d1", "d2"]
    assert ranking_of([("a", 0.1), ("b", 0.9)]) == ["b", "a"]
    assert ranking_of(["x", "y"]) == ["x", "y"] and ranking_of([]) == []
    with pytest.raises(TypeError, match="cannot read a ranking"):
        ranking_of([3.5])


def test_run_pipeline_with_a_real_pipeline_and_thresholds(mini_nli_model):
    from rerank import NLIReranker, Pipeline
    from retrievers import BM25Retriever

    docs = ["A man is playing a guitar on stage.", "Nobody is playing music.", "Cats sleep all day."]
    reranker = NLIReranker(mini_nli_model, granularity="passage", fusion_weight=None, show_progress=False)
    retriever = BM25Retriever(docs, show_progress=False)
    queries = {"q": "A man is playing an instrument on stage."}
    plain = run_pipeline(Pipeline(retriever, None, k=3, top_k=3), queries, name="bm25", show_progress=False)
    strict = Pipeline(retriever, reranker, k=3, top_k=3, min_entailment=0.5)
    filtered = run_pipeline(strict, queries, name="nli", show_progress=False)
    assert list(filtered.run["q"]) == ["0"]  # the contradiction and the unrelated passage are filtered out
    assert set(plain.run["q"]) <= {"0", "1", "2"} and plain.seconds["q"] >= 0
    report = compare([plain, filtered], {"q": {"0": 1}}, ["mrr@10"], n_resamples=10)
    assert report.rows[1]["mean"]["mrr@10"] == 1.0
    with pytest.raises(TypeError, match="Pipeline"):
        run_pipeline(42, queries, name="x")
