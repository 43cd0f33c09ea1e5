"""Calibration measured: a temperature for the mini NLI model, Platt scaling for the MS MARCO relevance model.

NLI: the temperature is fitted on a seeded half of SNLI test and reported on the other half and on the MNLI
mismatched sample (the mini model never saw either: ../shared/models/mini-nli-minilm-l6/TRAINING.md); ECE (15 bins),
NLL, Brier and accuracy before and after, then thresholds chosen on the fit half (best F1, and precision 0.9) with
their precision and recall on each set. Relevance (``--relevance``): Platt scaling fitted on SciFact train queries
(BM25 top k, a pair relevant when the train qrels say so, unjudged pairs not), reported on a sample of test queries.
Logits are kept in .cache/ (keyed by the scorer's fingerprint), so a rerun only refits.

Run (2 shared cores: wrap it in the CPU lock):
    flock /tmp/nli-rerank-cpu.lock .venv/bin/python benchmarks/calibration.py [--relevance]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
NLI_LABELS = ("entailment", "neutral", "contradiction")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(SHARED / "models" / "mini-nli-minilm-l6"))
    parser.add_argument("--backend", default="torch", help="NLI model backend (default torch, as in TRAINING.md)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the SNLI test halves and the query samples")
    parser.add_argument("--target-precision", type=float, default=0.9)
    parser.add_argument("--relevance", action="store_true", help="also fit Platt for the relevance model")
    parser.add_argument("--relevance-model", default=str(SHARED / "models" / "ms-marco-MiniLM-L-12-v2-int8"))
    parser.add_argument("--dataset", type=Path, default=SHARED / "data" / "retrieval" / "scifact")
    parser.add_argument("--k", type=int, default=20, help="BM25 candidates per query (default 20)")
    parser.add_argument("--train-queries", type=int, default=150, help="SciFact train queries sampled (default 150)")
    parser.add_argument("--test-queries", type=int, default=100, help="SciFact test queries sampled (default 100)")
    parser.add_argument("--max-length", type=int, default=256, help="relevance model token budget (default 256)")
    return parser.parse_args()


def cached(name: str, identity: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """Logits from .cache/calibration-<name>-<hash>.npy, computed and stored when absent."""
    key = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
    path = ROOT / ".cache" / f"calibration-{name}-{key}.npy"
    if path.is_file():
        return np.load(path)
    start = time.perf_counter()
    values = compute()
    print(f"scored {name}: {len(values)} pairs in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, values)
    return values


def nli_part(args: argparse.Namespace) -> None:
    from eval.nli_metrics import accuracy, brier_score, expected_calibration_error, negative_log_likelihood
    from rerank import NLIReranker
    from rerank.calibration import fit_temperature, nli_gold_indices, select_threshold, split_indices, threshold_stats
    from rerank.head import NLIHead
    from rerank.nli_tsv import read_nli_tsv

    reranker = NLIReranker(args.model, granularity="passage", fusion_weight=None, backend=args.backend, max_length=256,
                           show_progress=False)  # fmt: skip
    identity = reranker._scorer.fingerprint
    snli = read_nli_tsv(SHARED / "data" / "nli" / "snli_test.tsv", labels=True)
    mnli = read_nli_tsv(SHARED / "data" / "nli" / "mnli_mismatched_sample1000.tsv", labels=True)
    snli_logits = cached("snli_test", identity, lambda: reranker.pair_logits(snli.premises, snli.hypotheses))
    mnli_logits = cached("mnli_mm", identity, lambda: reranker.pair_logits(mnli.premises, mnli.hypotheses))
    fit, held = split_indices(len(snli), 0.5, args.seed)
    sets = {
        f"SNLI test, fit half (seed {args.seed})": (snli_logits[fit], [snli.labels[i] for i in fit]),
        "SNLI test, other half": (snli_logits[held], [snli.labels[i] for i in held]),
        "MNLI mismatched sample": (mnli_logits, mnli.labels),
    }
    fit_logits, fit_labels = sets[next(iter(sets))]
    temperature = fit_temperature(fit_logits, nli_gold_indices(fit_labels, reranker.label_map))
    plain, scaled = NLIHead(reranker.label_map), NLIHead(reranker.label_map, temperature)
    runner = reranker.model.runner
    print(f"\nNLI: {args.model} ({runner.backend} {runner.precision}, max_length 256); temperature fitted on the "
          f"SNLI fit half: T = {temperature.temperature:.4f}")  # fmt: skip
    print("| set | n | accuracy | ECE before | ECE after | NLL before | NLL after | Brier before | Brier after |")
    print("|---|---|---|---|---|---|---|---|---|")
    metrics = (expected_calibration_error, negative_log_likelihood, brier_score)
    for name, (z, labels) in sets.items():
        before, after = plain(z), scaled(z)
        cells = [f"{metric(labels, p):.4f}" for metric in metrics for p in (before, after)]
        print(f"| {name} | {len(labels)} | {accuracy(labels, after):.4f} | " + " | ".join(cells) + " |")
    print("\nThresholds chosen on the calibrated probabilities of the SNLI fit half; precision / recall of the pairs "
          "they select (min_entailment: entailment >= value, positive = gold entailment; max_contradiction: "
          "contradiction > value, positive = gold contradiction), measured on each set:")  # fmt: skip
    print("| threshold | criterion | value | " + " | ".join(sets) + " |")
    print("|---|---|---|" + "---|" * len(sets))
    columns = {"min_entailment": (0, "entailment", ">="), "max_contradiction": (2, "contradiction", ">")}
    for target in (None, args.target_precision):
        criterion = "best F1" if target is None else f"precision >= {target}"
        for name, (column, label, rule) in columns.items():
            choice = select_threshold(scaled(fit_logits)[:, column], np.array(fit_labels) == label, rule=rule,
                                      target_precision=target)  # fmt: skip
            cells = []
            for z, labels in sets.values():
                stats = threshold_stats(scaled(z)[:, column], np.array(labels) == label, choice.value, rule)
                cells.append(f"{stats.precision:.3f} / {stats.recall:.3f}")
            print(f"| {name} | {criterion} | {choice.value:.4f} | " + " | ".join(cells) + " |")


def relevance_part(args: argparse.Namespace) -> None:
    from eval import load_beir, sample_query_ids
    from rerank import RelevanceReranker
    from rerank.calibration import binary_reliability, fit_platt, select_threshold, threshold_stats
    from rerank.head import sigmoid
    from retrievers import BM25Retriever

    reranker = RelevanceReranker(args.relevance_model, max_length=args.max_length, show_progress=False)
    train, test = load_beir(args.dataset, "train"), load_beir(args.dataset, "test")
    bm25 = BM25Retriever(train.corpus, show_progress=False)
    calibrated, relevant, logits = {}, {}, {}
    for name, data, n in (("train", train, args.train_queries), ("test", test, args.test_queries)):
        ids = sample_query_ids(data.query_ids(), n, args.seed)
        rows = [(data.queries[q], c.document.content, data.qrels[q].get(c.document.id, 0) > 0)
                for q in ids for c in bm25.retrieve(data.queries[q], args.k)]  # fmt: skip
        identity = f"{reranker._scorer.fingerprint}|{name}|{args.k}|{','.join(ids)}"
        compute = lambda rows=rows: reranker.pair_logits([r[0] for r in rows], [r[1] for r in rows])  # noqa: E731
        logits[name] = cached(f"scifact_{name}", identity, compute)[:, 0]
        relevant[name] = np.array([r[2] for r in rows])
    platt = fit_platt(logits["train"], relevant["train"])
    for name, x in logits.items():
        calibrated[name] = sigmoid(platt.slope * x + platt.intercept)
    runner = reranker.model.runner
    print(f"\nRelevance: {args.relevance_model} ({runner.backend} {runner.precision}, max_length {args.max_length}); "
          f"Platt fitted on SciFact train, BM25 top {args.k} of {args.train_queries} sampled queries: slope "
          f"{platt.slope:.4f}, intercept {platt.intercept:.4f}")  # fmt: skip
    print("Relevance probabilities; a pair is relevant when the qrels say so (unjudged pairs count as not relevant):")
    print("| set | pairs | relevant | ECE before | ECE after | Brier before | Brier after | NLL before | NLL after |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, x in logits.items():
        y = relevant[name]
        before, after = binary_reliability(sigmoid(x), y), binary_reliability(calibrated[name], y)
        queries = args.train_queries if name == "train" else args.test_queries
        label = f"SciFact {name}, {queries} queries ({'fit' if name == 'train' else 'held out'})"
        print(f"| {label} | {len(y)} | {int(y.sum())} | {before.ece:.4f} | {after.ece:.4f} | {before.brier:.4f} | "
              f"{after.brier:.4f} | {before.nll:.4f} | {after.nll:.4f} |")  # fmt: skip
    choice = select_threshold(calibrated["train"], relevant["train"])
    stats = threshold_stats(calibrated["test"], relevant["test"], choice.value)
    print(f"min_score (best F1 on train) = {choice.value:.4f}: train precision {choice.fit.precision:.3f} recall "
          f"{choice.fit.recall:.3f}; test precision {stats.precision:.3f} recall {stats.recall:.3f}")  # fmt: skip


def main() -> int:
    args = parse_args()
    logging.basicConfig(level=logging.ERROR)
    from rerank.cpu import describe

    print(describe())
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"command: {' '.join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])}")
    nli_part(args)
    if args.relevance:
        relevance_part(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
