"""Evaluation harness: ranking, filtering, NLI and fact-check metrics, significance tests and comparisons.

``eval`` measures runs; it never loads a model. It is handed retrievers, rerankers, pipelines or callables (the
``rerank`` command line builds them). Qrels and runs are ``{query_id: {doc_id: value}}`` dicts.

Example:
    >>> from eval import evaluate
    >>> evaluate({"q1": {"d1": 1}}, {"q1": {"d1": 2.0, "d2": 1.0}}, ["ndcg@10", "mrr@10"]).aggregate
    {'ndcg@10': 1.0, 'mrr@10': 1.0}
"""

from __future__ import annotations

from eval.cache import CachedScorer, ScoreCache, ScoreStore, scorer_fingerprint
from eval.compare import Comparison, SystemRun, compare, ranking_of, run_pipeline
from eval.data import (
    BeirDataset,
    Claim,
    NLIExamples,
    load_beir,
    load_nli_tsv,
    load_qrels,
    load_queries,
    load_scifact_claims,
    load_scifact_sentences,
    load_trec_run,
    sample_query_ids,
    write_trec_run,
)
from eval.download import download_beir, resolve_dataset
from eval.evaluate import Evaluation, evaluate, rank_documents
from eval.factcheck import ClaimPrediction, FactCheckReport, evaluate_factcheck, predict_claims, report_predictions
from eval.filtering import FilterReport, evaluate_filter
from eval.metrics import METRICS, resolve_metric
from eval.nli_metrics import NLIReport, evaluate_nli
from eval.runs import (
    Retrieved,
    Scored,
    decisiveness_key,
    entailment_key,
    fused_key,
    kept_documents,
    relevance_key,
    rerank_run,
    reranker_key,
    retrieval_run,
    retrieve_all,
    run_from_rankings,
    score_all,
)
from eval.significance import paired_t_test, permutation_test

__all__ = [
    "METRICS",
    "BeirDataset",
    "CachedScorer",
    "Claim",
    "ClaimPrediction",
    "Comparison",
    "Evaluation",
    "FactCheckReport",
    "FilterReport",
    "NLIExamples",
    "NLIReport",
    "Retrieved",
    "ScoreCache",
    "ScoreStore",
    "Scored",
    "SystemRun",
    "compare",
    "decisiveness_key",
    "download_beir",
    "entailment_key",
    "evaluate",
    "evaluate_factcheck",
    "evaluate_filter",
    "evaluate_nli",
    "fused_key",
    "kept_documents",
    "load_beir",
    "load_nli_tsv",
    "load_qrels",
    "load_queries",
    "load_scifact_claims",
    "load_scifact_sentences",
    "load_trec_run",
    "paired_t_test",
    "permutation_test",
    "predict_claims",
    "rank_documents",
    "ranking_of",
    "relevance_key",
    "report_predictions",
    "rerank_run",
    "reranker_key",
    "resolve_dataset",
    "resolve_metric",
    "retrieval_run",
    "retrieve_all",
    "run_from_rankings",
    "run_pipeline",
    "sample_query_ids",
    "score_all",
    "scorer_fingerprint",
    "write_trec_run",
]
