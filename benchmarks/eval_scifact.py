"""SciFact test: BM25 alone vs BM25 + a relevance cross-encoder vs BM25 + the NLI reranker's modes, with p-values.

Scores go through an on-disk cache (``--cache``), so a rerun, a new weight grid or new metrics cost no model time;
latency and pairs/s are replayed from the model time recorded when each score was first computed.
The fusion weight of each granularity is chosen on a fixed-seed sample of the train qrels, then reported on test.

Run (2 shared cores: wrap it in the CPU lock):
    flock /tmp/nli-rerank-cpu.lock python benchmarks/eval_scifact.py --sample 100 --depth 30
    # the relevance cross-encoder alone, on every test query, over plain (unstemmed, no stopword list) BM25:
    flock /tmp/nli-rerank-cpu.lock python benchmarks/eval_scifact.py --sample all --bm25 plain --skip-nli \
        --skip-factcheck --out results/eval_scifact_plain.json
    # pair directions and lexical pre-selection at sentence granularity, with a live timing of each mode:
    flock /tmp/bench.lock python benchmarks/eval_scifact.py --granularities sentence --skip-relevance \
        --skip-factcheck --directions passage-premise query-premise both --max-segments all 5 3 2 1 \
        --share-logits --time-queries 5 --preselect-claims --out results/eval_scifact_pairs.json

``--share-logits`` keeps every pair's logits in memory for the whole run, so modes that read the same pairs
(``both`` reads both directions' pairs; ``max_segments=m`` a subset of all segments) cost no model time twice; the
replayed latency and pairs/s of such rows then understate their cost, which ``--time-queries`` measures instead.
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
from rerank.nli_reranker import DEFAULT_DIRECTION, DIRECTIONS
from rerank.segmenter import DEFAULT_TITLE, DEFAULT_WINDOW_TOKENS, GRANULARITIES, TITLE_MODES

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
METRICS = ["ndcg@10", "mrr@10", "recall@100"]
WEIGHTS = [0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0]


def sample_size(text: str) -> int | None:
    return None if text == "all" else int(text)


def max_segments_value(text: str) -> int | None:
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
    parser.add_argument("--nli-threads", type=int, default=None,
                        help="threads of the NLI model (1 is faster on a CPU shared with other jobs)")  # fmt: skip
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
    parser.add_argument("--directions", nargs="+", choices=DIRECTIONS, default=[DEFAULT_DIRECTION],
                        help="pair directions (NLIReranker(direction=...)), each with each --max-segments")  # fmt: skip
    parser.add_argument("--max-segments", type=max_segments_value, nargs="+", default=[None],
                        help="segments scored per document at sentence/window granularity ('all' or m)")  # fmt: skip
    parser.add_argument("--share-logits", action="store_true",
                        help="one in-memory logit cache for every NLI mode (see the module docstring)")  # fmt: skip
    parser.add_argument("--time-queries", type=int, default=0,
                        help="time each NLI mode live (no cache) on this many test queries; 0: no timing")  # fmt: skip
    parser.add_argument("--preselect-claims", action="store_true",
                        help="how many gold SUPPORT / CONTRADICT sentences of SciFact dev claims the lexical "
                        "pre-selection keeps, for each --max-segments (no model)")  # fmt: skip
    return parser.parse_args()


class CountedPairs:
    """An NLIReranker whose ``segments`` has one entry per model pair ``score`` spends on a document (pre-selected
    segments, twice for direction "both"), so the score store records model pairs, not segments."""

    def __init__(self, reranker):
        self.reranker = reranker
        self.fingerprint = reranker.fingerprint

    def score(self, query, documents):
        return self.reranker.score(query, documents)

    def segments(self, document) -> list[None]:
        return [None] * self.reranker.pair_count(document)


def nli_reranker(args, model, settings: dict, cache=None):
    from rerank import NLIReranker

    max_length = args.passage_max_length if settings["granularity"] == "passage" else 512
    return NLIReranker(model, fusion_weight=None, max_length=max_length, show_progress=False, cache=cache,
                       threads=args.nli_threads, **settings)  # fmt: skip


def nli_scorer(args, model, settings: dict, cache=None) -> CachedScorer:
    reranker = nli_reranker(args, model, settings, cache)
    print(f"NLI {settings}: {reranker.model.runner.backend} {reranker.model.runner.precision}")
    return CachedScorer(CountedPairs(reranker), args.cache)


def nli_modes(args) -> list[tuple[str, dict]]:
    """(label, NLIReranker settings) of each NLI mode measured: ``granularity_modes`` crossed with each direction
    and, at sentence and window granularity, each max_segments."""
    modes = []
    for label, settings in granularity_modes(args):
        for direction in args.directions:
            counts = [None] if settings["granularity"] == "passage" else args.max_segments
            for m in counts:
                extra: dict = {} if direction == DEFAULT_DIRECTION else {"direction": direction}
                suffix = "" if direction == DEFAULT_DIRECTION else f", {direction}"
                if settings["granularity"] != "passage":  # explicit, so "all" stays all whatever the default
                    extra["max_segments"] = m
                    suffix += "" if m is None else f", m={m}"
                modes.append((label + suffix, settings | extra))
    return modes


def granularity_modes(args) -> list[tuple[str, dict]]:
    """(label, NLIReranker settings) of each granularity measured: passage, sentence with each title handling, window
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

    sweeps, train_best = {}, {}
    model = None
    from rerank.cache import ScoreCache

    shared = ScoreCache(max_entries=2_000_000) if args.share_logits else None
    modes = [] if args.skip_nli else nli_modes(args)
    for label, settings in modes:
        from rerank import load_model

        model = model or load_model(
            args.nli_model, backend=args.nli_backend, precision=args.nli_precision, threads=args.nli_threads
        )
        scorer = nli_scorer(args, model, settings, shared)
        test_s = score_all(scorer, test_q, test_r, args.depth)
        train_s = score_all(scorer, train_q, train_r, args.depth)
        notes = f"depth={args.depth}, " + ", ".join(f"{k}={v}" for k, v in settings.items())
        for order in args.orders:
            weight, sweep = choose_weight(train_r, train_s, train, order)
            _, test_sweep = choose_weight(test_r, test_s, qrels, order)
            name = label if order == "entailment" else f"{label}, {order}"
            sweeps[name] = (weight, sweep, test_sweep)
            train_best[name] = sweep[weight]
            literal = entailment_key if order == "entailment" else decisiveness_key
            systems.append(system(f"bm25 + NLI {name} only", test_s, literal, notes))
            systems.append(system(f"bm25 + NLI {name}, fused w={weight:g} (train)", test_s, fused_key(weight, order),
                                  notes + f", order={order}, fusion_weight={weight} chosen on train"))  # fmt: skip
            if settings["granularity"] == "sentence" and order == "entailment" and weight != 2.0:
                systems.append(system(f"bm25 + NLI {name}, fused w=2 (default)", test_s, fused_key(2.0), notes))

    timings = time_modes(args, model, modes, test_q, test_r) if args.time_queries and modes else {}
    report = compare(systems, qrels, METRICS, baseline="bm25", seed=args.seed)
    print(
        f"\nSciFact test, fixed-seed sample of {len(test_q)} queries (seed {args.seed}); BM25 ({args.bm25}) top "
        f"{args.k}, NLI top {args.depth} reranked; passage max_length {args.passage_max_length}; "
        "p: paired t / permutation"
    )
    print(report.to_markdown())
    fused = [system.name for system in systems if "(train)" in system.name and "NLI" in system.name]
    against_default = None
    if len(fused) > 1:  # every fused NLI mode against the first one (the default direction and segment count)
        against_default = compare(systems, qrels, ["ndcg@10"], baseline=fused[0], seed=args.seed)
        print(f"\nnDCG@10 against {fused[0]!r} (p: paired t / permutation):")
        print(against_default.to_markdown())
    if sweeps:
        print_sweeps(sweeps, len(train_q), args.seed)
        print(f"\nTrain nDCG@10 at each mode's chosen weight ({len(train_q)} train queries):")
        for name, value in train_best.items():
            print(f"| {name} | {value:.4f} |")
    if timings:
        print_timings(timings, args.time_queries, args.depth)
    preselection = preselect_claims(args) if args.preselect_claims else {}

    payload = report.to_dict() | {
        "bm25": args.bm25,
        "bm25_all_test": full_eval,
        "test_queries": test_ids,
        "train_queries": train_ids,
        "weights": {g: {"chosen": w, "train": s, "test": t} for g, (w, s, t) in sweeps.items()},
        "train_ndcg@10_at_chosen_weight": train_best,
        "timings": timings,
        "against_first_nli_mode": against_default.to_dict() if against_default is not None else None,
        "preselect_claims": preselection,
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


def time_modes(args, model, modes, queries: dict, retrieved) -> dict[str, dict]:
    """Each mode's live cost (no score store, no logit cache) on the first ``--time-queries`` test queries, run
    back to back in this process: documents/s, model pairs/s and ms per query."""
    chosen = list(queries)[: args.time_queries]
    timings = {}
    for label, settings in modes:
        reranker = nli_reranker(args, model, settings)
        documents = {q: [c.document for c in retrieved.candidates.get(q, [])[: args.depth]] for q in chosen}
        pairs = sum(reranker.pair_count(d) for docs in documents.values() for d in docs)
        reranker.score(queries[chosen[0]], documents[chosen[0]][:2])  # warm-up, not timed
        start = time.perf_counter()
        for q in chosen:
            reranker.score(queries[q], documents[q])
        seconds = time.perf_counter() - start
        count = sum(len(docs) for docs in documents.values())
        timings[label] = {"documents": count, "pairs": pairs, "seconds": seconds, "docs_per_s": count / seconds,
                          "pairs_per_s": pairs / seconds, "ms_per_query": 1000 * seconds / len(chosen)}  # fmt: skip
    return timings


def print_timings(timings: dict, queries: int, depth: int) -> None:
    print(f"\nLive cost, {queries} test queries x top {depth} (no cache; one process, back to back):")
    print("| mode | pairs/doc | docs/s | pairs/s | ms/query |")
    print("|---|---|---|---|---|")
    for label, t in timings.items():
        print(f"| {label} | {t['pairs'] / t['documents']:.2f} | {t['docs_per_s']:.1f} | {t['pairs_per_s']:.1f} | "
              f"{t['ms_per_query']:.0f} |")  # fmt: skip


def preselect_claims(args) -> dict:
    """Share of gold evidence sentences (SciFact dev, cited abstracts) among the m sentences with the most claim
    terms, by evidence label: what ``max_segments=m`` would leave unread if every segment were not scored when
    contradiction matters (``rerank(max_contradiction=...)`` scores every one)."""
    from rerank.preselect import preselect_tokenizer, select_segments

    folder = args.shared / "data" / "factcheck" / "scifact"
    claims = load_scifact_claims(folder / "claims_dev.jsonl")
    documents = load_scifact_sentences(folder / "corpus_sentences.jsonl.gz")
    tokenize = preselect_tokenizer(None)
    counts = [m for m in args.max_segments if m is not None]
    kept: dict[str, dict[int, int]] = {"SUPPORT": dict.fromkeys(counts, 0), "CONTRADICT": dict.fromkeys(counts, 0)}
    total = {"SUPPORT": 0, "CONTRADICT": 0}
    for claim in claims:
        for doc_id, (label, gold) in claim.evidence.items():
            sentences = documents[doc_id].metadata["sentences"]
            total[label] += len(gold)
            for m in counts:
                chosen = set(select_segments(claim.text, sentences, m, tokenize))
                kept[label][m] += sum(1 for i in gold if i in chosen)
    print("\nGold evidence sentences among the m pre-selected ones (SciFact dev claims, cited abstracts):")
    print("| evidence | sentences | " + " | ".join(f"m={m}" for m in counts) + " |")
    print("|---|---|" + "---|" * len(counts))
    for label in kept:
        cells = [f"{kept[label][m] / max(1, total[label]):.3f}" for m in counts]
        print(f"| {label} | {total[label]} | " + " | ".join(cells) + " |")
    return {label: {"sentences": total[label], **{f"m={m}": kept[label][m] / max(1, total[label]) for m in counts}}
            for label in kept}  # fmt: skip


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
