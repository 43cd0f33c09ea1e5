"""SciFact test: BM25 alone vs BM25 + a relevance cross-encoder vs BM25 + the NLI reranker's modes, with p-values.

Scores go through an on-disk cache (``--cache``), so a rerun, a new weight grid or new metrics cost no model time;
latency and pairs/s are replayed from the model time recorded when each score was first computed.
The fusion weight of each granularity is chosen on a fixed-seed sample of the train qrels, then reported on test.

Run (2 shared cores: wrap it in the CPU lock):
    flock /tmp/nli-rerank-cpu.lock python benchmarks/eval_scifact.py --sample 100 --depth 30
    # the relevance cross-encoder alone, on every test query, over plain (unstemmed, no stopword list) BM25:
    flock /tmp/nli-rerank-cpu.lock python benchmarks/eval_scifact.py --sample all --bm25 plain --skip-nli \
        --skip-factcheck --out results/eval_scifact_plain.json
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from eval import (
    CachedScorer,
    SystemRun,
    compare,
    decisiveness_key,
    entailment_key,
    evaluate,
    evaluate_factcheck,
    fused_key,
    load_beir,
    load_qrels,
    load_scifact_claims,
    load_scifact_sentences,
    relevance_key,
    rerank_run,
    retrieval_run,
    retrieve_all,
    sample_query_ids,
    score_all,
)
from rerank.cpu import describe
from rerank.fusion import ORDERS
from rerank.segmenter import DEFAULT_TITLE, DEFAULT_WINDOW_TOKENS, GRANULARITIES, TITLE_MODES

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
METRICS = ["ndcg@10", "mrr@10", "recall@100"]
WEIGHTS = [0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0]


def sample_size(text: str) -> int | None:
    return None if text == "all" else int(text)


def bm25_tokenizer(name: str):
    from retrievers.tokenize import Tokenizer

    # "plain" is the usual baseline BM25 of other tools: lowercase words, every word kept, nothing stemmed.
    return Tokenizer() if name == "stemmed" else Tokenizer(stopwords=None, stemmer=None)


BM25_TOKENIZERS = ("stemmed", "plain")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--nli-model", default=str(SHARED / "models" / "mini-nli-minilm-l6"))
    parser.add_argument("--relevance-model", default=str(SHARED / "models" / "ms-marco-MiniLM-L-12-v2-int8"))
    parser.add_argument("--sample", type=sample_size, default=100, help="test queries, fixed-seed sample, or 'all'")
    parser.add_argument(
        "--bm25",
        choices=sorted(BM25_TOKENIZERS),
        default="stemmed",
        help="BM25 tokenisation: the retriever default (stemmed) or plain lowercase words",
    )
    parser.add_argument("--train-sample", type=int, default=50, help="train queries for choosing the fusion weight")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=100, help="BM25 depth (recall@100 is measured on it)")
    parser.add_argument("--depth", type=int, default=30, help="candidates reranked per query")
    parser.add_argument(
        "--relevance-depth", type=int, nargs="+", default=None,
        help="depths for the relevance model, one row each (default --depth); the deepest is scored, the rest cached",
    )  # fmt: skip
    parser.add_argument("--passage-max-length", type=int, default=256, help="token budget at passage granularity")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "scores.sqlite")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "eval_scifact.json")
    parser.add_argument("--relevance-backend", default="auto", help="backend of the relevance model (auto: onnx)")
    parser.add_argument("--nli-backend", default="torch", help="backend of the NLI model (docs: torch)")
    parser.add_argument("--nli-precision", default="fp32", help="precision of the NLI model (docs: fp32)")
    parser.add_argument("--skip-relevance", action="store_true")
    parser.add_argument("--skip-nli", action="store_true")
    parser.add_argument("--skip-factcheck", action="store_true")
    parser.add_argument(
        "--titles", nargs="+", choices=TITLE_MODES, default=[DEFAULT_TITLE],
        help="title handling(s) measured at sentence granularity (rerank.segmenter)",
    )  # fmt: skip
    parser.add_argument("--granularities", nargs="+", choices=GRANULARITIES, default=["passage", "sentence"])
    parser.add_argument("--window-tokens", type=int, nargs="+", default=[DEFAULT_WINDOW_TOKENS],
                        help="window budgets measured at window granularity")  # fmt: skip
    parser.add_argument("--orders", nargs="+", choices=ORDERS, default=["entailment"],
                        help="NLI orders measured (literal and fused); scored once, ordered for free")  # fmt: skip
    return parser.parse_args()


def nli_scorer(args, model, settings: dict) -> CachedScorer:
    from rerank import NLIReranker

    max_length = args.passage_max_length if settings["granularity"] == "passage" else 512
    reranker = NLIReranker(model, fusion_weight=None, max_length=max_length, show_progress=False, **settings)
    print(f"NLI {settings}: {reranker.model.runner.backend} {reranker.model.runner.precision}")
    return CachedScorer(reranker, args.cache)


def nli_modes(args) -> list[tuple[str, dict]]:
    """(label, NLIReranker settings) of each NLI mode measured: passage, sentence with each title handling, window
    with each token budget (title handling: the first of --titles)."""
    modes = [("passage", {"granularity": "passage"})] if "passage" in args.granularities else []
    if "sentence" in args.granularities:
        for title in args.titles:
            label = "sentence" if title == DEFAULT_TITLE else f"sentence, title={title}"
            modes.append((label, {"granularity": "sentence", "title": title}))
    if "window" in args.granularities:
        for budget in args.window_tokens:
            modes.append(
                (f"window {budget}", {"granularity": "window", "title": args.titles[0], "window_tokens": budget})
            )
    return modes


def choose_weight(retrieved, scored, qrels, order: str = "entailment") -> tuple[float, dict[float, float]]:
    """The grid weight with the best train nDCG@10 (ties: the smaller weight)."""
    sweep = {w: evaluate(qrels, rerank_run(retrieved, scored, fused_key(w, order)), "ndcg@10").aggregate["ndcg@10"]
             for w in WEIGHTS}  # fmt: skip
    best = max(WEIGHTS, key=lambda w: (round(sweep[w], 10), -w))
    return best, sweep


def main() -> int:
    args = parse_args()
    logging.basicConfig(level=logging.ERROR)
    started = time.time()
    print(f"# eval_scifact, {time.strftime('%Y-%m-%d')}\n{describe()}")
    data = load_beir(args.shared / "data" / "retrieval" / "scifact", "test")
    train_qrels = load_qrels(args.shared / "data" / "retrieval" / "scifact" / "qrels" / "train.tsv")
    from retrievers import BM25Retriever

    retriever = BM25Retriever(data.corpus, tokenizer=bm25_tokenizer(args.bm25), show_progress=False)
    all_test = {q: data.queries[q] for q in data.query_ids()}
    full = retrieve_all(retriever, all_test, args.k, show_progress=False)
    full_eval = evaluate(data.qrels, retrieval_run(full), METRICS).aggregate
    print(f"BM25 ({args.bm25}, {retriever.engine_name} engine) on all {len(all_test)} test queries: "
          + ", ".join(f"{m} {v:.4f}" for m, v in full_eval.items()))  # fmt: skip

    test_ids = sample_query_ids(data.query_ids(), args.sample, args.seed)
    train_ids = sample_query_ids([q for q in train_qrels if q in data.queries], args.train_sample, args.seed)
    test_q, train_q = {q: data.queries[q] for q in test_ids}, {q: data.queries[q] for q in train_ids}
    qrels, train = {q: data.qrels[q] for q in test_ids}, {q: train_qrels[q] for q in train_ids}
    test_r = retrieve_all(retriever, test_q, args.k, show_progress=False)
    train_r = retrieve_all(retriever, train_q, args.k, show_progress=False)
    systems = [SystemRun("bm25", retrieval_run(test_r), test_r.seconds, notes=f"k={args.k}")]

    def system(name, scored, key, notes):
        seconds = {q: test_r.seconds[q] + scored.seconds[q] for q in test_q}
        return SystemRun(name, rerank_run(test_r, scored, key), seconds, sum(scored.pairs.values()),
                         sum(scored.seconds.values()), notes)  # fmt: skip

    if not args.skip_relevance:
        try:
            from rerank import RelevanceReranker

            relevance = CachedScorer(
                RelevanceReranker(args.relevance_model, backend=args.relevance_backend, show_progress=False), args.cache
            )
            backend = f"{relevance.reranker.model.runner.backend} {relevance.reranker.model.runner.precision}"
            # Deepest first: the shallower depths' pairs are then all in the cache.
            for depth in sorted(set(args.relevance_depth or [args.depth]), reverse=True):
                scored = score_all(relevance, test_q, test_r, depth)
                systems.append(system(f"bm25 + ms-marco-MiniLM-L12 int8 (top {depth}, {backend})", scored,
                                      relevance_key, f"depth={depth}"))  # fmt: skip
        except Exception as error:  # the ONNX loader may be missing; report and go on
            print(f"relevance cross-encoder skipped: {type(error).__name__}: {error}")

    sweeps = {}
    model = None
    for label, settings in () if args.skip_nli else nli_modes(args):
        from rerank import load_model

        model = model or load_model(args.nli_model, backend=args.nli_backend, precision=args.nli_precision)
        scorer = nli_scorer(args, model, settings)
        test_s = score_all(scorer, test_q, test_r, args.depth)
        train_s = score_all(scorer, train_q, train_r, args.depth)
        notes = f"depth={args.depth}, " + ", ".join(f"{k}={v}" for k, v in settings.items())
        for order in args.orders:
            weight, sweep = choose_weight(train_r, train_s, train, order)
            _, test_sweep = choose_weight(test_r, test_s, qrels, order)
            name = label if order == "entailment" else f"{label}, {order}"
            sweeps[name] = (weight, sweep, test_sweep)
            literal = entailment_key if order == "entailment" else decisiveness_key
            systems.append(system(f"bm25 + NLI {name} only", test_s, literal, notes))
            systems.append(system(f"bm25 + NLI {name}, fused w={weight:g} (train)", test_s, fused_key(weight, order),
                                  notes + f", order={order}, fusion_weight={weight} chosen on train"))  # fmt: skip
            if settings["granularity"] == "sentence" and order == "entailment" and weight != 2.0:
                systems.append(system(f"bm25 + NLI {name}, fused w=2 (default)", test_s, fused_key(2.0), notes))

    report = compare(systems, qrels, METRICS, baseline="bm25", seed=args.seed)
    print(
        f"\nSciFact test, fixed-seed sample of {len(test_q)} queries (seed {args.seed}); BM25 ({args.bm25}) top "
        f"{args.k}, NLI top {args.depth} reranked; passage max_length {args.passage_max_length}; "
        "p: paired t / permutation"
    )
    print(report.to_markdown())
    if sweeps:
        print_sweeps(sweeps, len(train_q), args.seed)

    payload = report.to_dict() | {
        "bm25": args.bm25,
        "bm25_all_test": full_eval,
        "test_queries": test_ids,
        "train_queries": train_ids,
        "weights": {g: {"chosen": w, "train": s, "test": t} for g, (w, s, t) in sweeps.items()},
    }
    if not args.skip_factcheck:
        factcheck = run_factcheck(args)
        payload["factcheck"] = factcheck
    args.out.parent.mkdir(parents=True, exist_ok=True)
    import json

    args.out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    report.plot_differences(args.out.with_suffix(".png"))
    print(f"\nwrote {args.out} and {args.out.with_suffix('.png')} in {time.time() - started:.0f} s")
    return 0


def print_sweeps(sweeps, train_queries: int, seed: int) -> None:
    print(f"\nFusion weight sweep, nDCG@10 (chosen on {train_queries} train queries, seed {seed}):")
    print("| granularity | set | " + " | ".join(f"w={w:g}" for w in WEIGHTS) + " |")
    print("|---|---|" + "---|" * len(WEIGHTS))
    for granularity, (weight, sweep, test_sweep) in sweeps.items():
        for name, values in (("train (chooses)", sweep), ("test (reported only)", test_sweep)):
            cells = [f"**{values[w]:.4f}**" if w == weight else f"{values[w]:.4f}" for w in WEIGHTS]
            print(f"| {granularity} | {name} | " + " | ".join(cells) + " |")


def run_factcheck(args) -> dict:
    """Claim labels and evidence sentences on SciFact dev claims (each sentence vs the claim, the mini NLI model)."""
    from rerank import NLIReranker

    folder = args.shared / "data" / "factcheck" / "scifact"
    claims = load_scifact_claims(folder / "claims_dev.jsonl")
    documents = load_scifact_sentences(folder / "corpus_sentences.jsonl.gz")
    reranker = NLIReranker(args.nli_model, granularity="passage", fusion_weight=None, max_length=256,
                           backend=args.nli_backend, precision=args.nli_precision, show_progress=False)  # fmt: skip
    scorer = CachedScorer(reranker, args.cache)
    print(f"\nSciFact dev claims ({len(claims)}), cited abstracts given, mini NLI model, thresholds 0.5:")
    print("| evidence P | evidence R | evidence F1 | labelled F1 | label accuracy | label macro-F1 |")
    print("|---|---|---|---|---|---|")
    report = evaluate_factcheck(claims, documents, scorer.score_pairs)
    print(f"| {report.selection_precision:.4f} | {report.selection_recall:.4f} | {report.selection_f1:.4f} | "
          f"{report.labelled_f1:.4f} | {report.label_accuracy:.4f} | {report.label_macro_f1:.4f} |")  # fmt: skip
    print(f"confusion (rows gold SUPPORT/CONTRADICT/NOINFO, columns predicted): {report.confusion}")
    return report.to_dict()


if __name__ == "__main__":
    raise SystemExit(main())
