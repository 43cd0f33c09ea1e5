"""``rerank eval`` and ``rerank eval-nli``: build the retriever and reranker, hand them to ``eval``, print a table.

Examples:
    rerank eval --dataset ../shared/data/retrieval/scifact --retriever bm25 --reranker MODEL --k 100
                --depth 30 --metrics ndcg@10 mrr@10 recall@100 --baseline retriever --out results.json
    rerank eval-nli --data ../shared/data/nli/snli_test.tsv --model MODEL
    rerank eval-nli --data ../shared/data/nli/xnli_dev/*.tsv --model MODEL   (one row per language, then the mean)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path

from rerank.atomic import write_text_atomic
from rerank.errors import MissingDependencyError
from rerank.nli_reranker import NLIReranker
from rerank_cli.common import add_reranker_options, build_reranker, check_reranker_flags, thresholds

DEFAULT_METRICS = ("ndcg@10", "mrr@10", "recall@100")
RETRIEVERS = ("bm25", "dense", "hybrid")


def register(subparsers) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = subparsers.add_parser("eval", help="evaluate retrieval and reranking on a BEIR dataset",
                                   description=__doc__, formatter_class=raw)  # fmt: skip
    parser.add_argument(
        "--dataset",
        required=True,
        help="BEIR folder (corpus.jsonl[.gz], queries.jsonl, "
        "qrels/), or a BEIR name such as scifact, downloaded once into ~/.cache/nli-rerank/beir",
    )
    parser.add_argument("--split", default="test", help="qrels split (default test)")
    parser.add_argument("--retriever", choices=RETRIEVERS, default="bm25")
    parser.add_argument("--dense-model", default=None, help="bi-encoder for dense/hybrid (default: the retriever's)")
    parser.add_argument(
        "--index",
        default=None,
        help="saved retriever folder: loaded when it exists (it must hold this dataset's corpus and the --retriever "
        "kind), otherwise built and saved there, so the next run skips indexing and encoding",
    )
    parser.add_argument("--k", type=int, default=100, help="retrieval depth (default 100)")
    parser.add_argument(
        "--depth",
        type=int,
        nargs="+",
        default=None,
        help="candidates reranked per query (default: k); several depths give one row each, scored once at the deepest",
    )
    parser.add_argument("--metrics", nargs="+", default=list(DEFAULT_METRICS))
    parser.add_argument("--baseline", default="retriever", help="system the others are tested against")
    parser.add_argument("--sample", type=int, default=None, help="evaluate a fixed-seed subsample of N queries")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample and the permutation test")
    parser.add_argument("--cache", default=None, help="SQLite score cache; reruns then skip the model")
    parser.add_argument("--out", default=None, help="write everything (per-query included) to this JSON file")
    parser.add_argument("--runs-dir", default=None, help="write each system's run in TREC format here")
    parser.add_argument("--plot", default=None, help="PNG histogram of per-query differences to the baseline")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_reranker_options(
        parser,
        model_flags=("--reranker", "--model"),
        model_default=None,
        model_help="reranker model (directory or hub id); without it only the retriever is evaluated",
    )
    parser.set_defaults(run=run)

    nli = subparsers.add_parser("eval-nli", help="accuracy, macro-F1 and calibration of an NLI model on a TSV set",
                                description=__doc__, formatter_class=raw)  # fmt: skip
    nli.add_argument("--data", required=True, nargs="+",
                     help="TSV file(s) with header premise, hypothesis, label; a file named by a language code "
                     "(xnli_dev/fr.tsv, mnli_de.tsv) fills the language column; several add a mean row")  # fmt: skip
    nli.add_argument("--limit", type=int, default=None, help="read at most N pairs per file")
    nli.add_argument("--cache", default=None, help="SQLite score cache")
    nli.add_argument("--out", default=None, help="write the reports as JSON")
    nli.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_reranker_options(nli)
    nli.set_defaults(run=run_nli, granularity="passage", fusion_weight=None)


def _check_target(flag: str, path: str, *, folder: bool) -> None:
    """Refuse, before any work is done, an output path that cannot be written: a folder where a file is expected or
    the reverse, a parent that is a file, or a place this user may not write to. Nothing is created here."""
    target = Path(path)
    if target.exists():
        if folder != target.is_dir():
            wanted, found = ("a folder", "a file") if folder else ("a file name", "a directory")
            raise ValueError(f"{flag} {path} is {found}; give {wanted}")
        if not os.access(target, os.W_OK):
            raise ValueError(f"{flag} {path} is not writable")
    place = target.parent if not folder or not target.exists() else target
    while not place.exists():
        place = place.parent
    if not place.is_dir():
        raise ValueError(f"{flag} {path} cannot be created: {place} is a file, not a folder")
    if not os.access(place, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {path} cannot be written: no permission to write in {place}")


def _check_cache(path: str | None) -> None:
    """--cache must be a new file or a score cache written by this project (checked by opening it)."""
    from eval import ScoreStore

    if path is None:
        return
    _check_target("--cache", path, folder=False)
    if Path(path).exists():
        ScoreStore(path).close()


def _check_plot(path: str) -> None:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError:
        raise MissingDependencyError("--plot needs matplotlib: pip install 'nli-rerank[eval]'") from None
    kinds = FigureCanvasAgg.get_supported_filetypes()
    suffix = Path(path).suffix.lower().removeprefix(".")
    if suffix and suffix not in kinds:
        raise ValueError(f"--plot {path}: cannot write a .{suffix} image; use one of {sorted(kinds)}")
    _check_target("--plot", path, folder=False)


def _system_names(args: argparse.Namespace, depths: list[int]) -> list[str]:
    """The names of the systems compared: the retriever, then one per rerank depth."""
    if not args.model:
        return [args.retriever]
    name = f"{args.retriever}+{Path(args.model).name}"
    return [args.retriever] + [name + (f"@{depth}" if len(depths) > 1 else "") for depth in depths]


def _check_eval_args(args: argparse.Namespace, depths: list[int]) -> None:
    """Every eval flag that can be checked before the dataset and the model are read; raises ValueError."""
    from eval import resolve_metric

    if args.k < 1 or min(depths) < 1:
        raise ValueError(f"--k and --depth must be positive, got k={args.k}, depth={args.depth}")
    if args.sample is not None and args.sample < 1:
        raise ValueError(f"--sample must be a positive number of queries, got {args.sample}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    for metric in args.metrics:
        resolve_metric(metric)
    names = _system_names(args, depths)
    if args.baseline != "retriever" and args.baseline not in names:
        raise ValueError(f"--baseline {args.baseline!r} is not one of the systems {['retriever', *names]}")
    if args.model:
        check_reranker_flags(args, show_progress=False)
    _check_cache(args.cache)
    if args.index and not Path(args.index).is_dir():  # an existing folder is only read
        _check_target("--index", args.index, folder=True)
    if args.out:
        _check_target("--out", args.out, folder=False)
    if args.runs_dir:
        _check_target("--runs-dir", args.runs_dir, folder=True)
    if args.plot:
        _check_plot(args.plot)


def _build_retriever(args: argparse.Namespace, corpus, show_progress: bool):
    import retrievers

    bm25 = None
    if args.retriever in {"bm25", "hybrid"}:
        bm25 = retrievers.BM25Retriever(corpus, show_progress=show_progress)
        if args.retriever == "bm25":
            return bm25
    options = {"show_progress": show_progress} | ({"model": args.dense_model} if args.dense_model else {})
    dense = retrievers.DenseRetriever(corpus, **options)
    if args.retriever == "dense":
        return dense
    return retrievers.HybridRetriever([bm25, dense], depth=max(args.k, 100))


def _retriever(args: argparse.Namespace, corpus, show_progress: bool):
    """Load the saved retriever at --index (checked against the corpus and --retriever), or build it (and save it)."""
    if args.index and Path(args.index).is_dir():
        from retrievers import load_retriever
        from retrievers.storage import read_manifest

        kind = read_manifest(args.index)["kind"]
        if kind != args.retriever:
            raise ValueError(f"--index {args.index} holds a {kind} retriever but --retriever is {args.retriever}")
        retriever = load_retriever(args.index, model=args.dense_model, show_progress=show_progress)
        indexed, wanted = _document_ids(retriever), {document.id for document in corpus}
        if indexed != wanted:
            raise ValueError(
                f"--index {args.index} was built from another corpus ({len(indexed)} documents, "
                f"{len(indexed - wanted)} not in this dataset, {len(wanted - indexed)} missing); "
                "point --index at a new folder to rebuild it"
            )
        return retriever
    retriever = _build_retriever(args, corpus, show_progress)
    if args.index:
        retriever.save(args.index)
        print(f"saved the {args.retriever} retriever to {args.index}", file=sys.stderr)
    return retriever


def _document_ids(retriever) -> set[str]:
    sources = getattr(retriever, "retrievers", None)
    if sources is not None:  # a hybrid retriever: every source must cover the corpus
        return set.intersection(*(_document_ids(source) for source in sources.values()))
    return {document.id for document in retriever.documents}


@contextlib.contextmanager
def _scorer(reranker, cache: str | None, *, several: bool = False):
    """The reranker behind a score cache: the --cache file, a temporary one when several depths share the scores,
    else none."""
    from eval import CachedScorer

    if not cache and not several:
        yield reranker
        return
    with contextlib.ExitStack() as stack:
        path = cache or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rerank-eval-"))) / "scores.sqlite"
        scorer = CachedScorer(reranker, path)
        stack.callback(scorer.cache.close)  # runs first: the file is closed before a temporary folder is removed
        yield scorer


def _reranked_systems(args: argparse.Namespace, reranker, queries, retrieved, depths: list[int], show: bool):
    """One SystemRun per rerank depth (deepest first, so the others are served from the cache) and the deepest
    depth's scores."""
    from eval import SystemRun, rerank_run, reranker_key, score_all

    is_nli = isinstance(reranker, NLIReranker)
    key = reranker_key(reranker)
    systems, deepest = [], None
    with _scorer(reranker, args.cache, several=len(depths) > 1) as scorer:
        for depth in depths:
            scored = score_all(scorer, queries, retrieved, depth, show_progress=show)
            if deepest is None:
                deepest = scored
            seconds = {q: retrieved.seconds[q] + scored.seconds[q] for q in queries}
            name = _system_names(args, depths)[1 + depths.index(depth)]
            mode = f", granularity={reranker.granularity}, fusion_weight={reranker.fusion_weight}" if is_nli else ""
            notes = f"depth={depth}{mode}"
            systems.append(SystemRun(name, rerank_run(retrieved, scored, key), seconds, sum(scored.pairs.values()),
                                     sum(scored.seconds.values()), notes))  # fmt: skip
    return systems, deepest


def run(args: argparse.Namespace) -> int:
    from eval import (
        SystemRun,
        compare,
        evaluate_filter,
        kept_documents,
        load_beir,
        resolve_dataset,
        retrieval_run,
        retrieve_all,
        sample_query_ids,
        write_trec_run,
    )

    show = not args.no_progress
    depths = sorted(set(args.depth or [args.k]), reverse=True)  # deepest first: the others are then cache hits
    _check_eval_args(args, depths)
    data = load_beir(resolve_dataset(args.dataset, show_progress=show), args.split)
    ids = sample_query_ids(data.query_ids(), args.sample, args.seed)
    queries = {qid: data.queries[qid] for qid in ids}
    qrels = {qid: data.qrels[qid] for qid in ids}
    reranker = build_reranker(args, show_progress=False) if args.model else None  # before indexing: fail fast
    filtering = reranker is not None and bool(thresholds(args, reranker))
    if filtering and not isinstance(reranker, NLIReranker):
        raise ValueError("filtering metrics need an NLI model (--min-entailment/--max-contradiction)")
    retrieved = retrieve_all(_retriever(args, data.corpus, show), queries, args.k, show_progress=show)
    base_seconds = retrieved.seconds
    systems = [SystemRun(args.retriever, retrieval_run(retrieved), base_seconds, notes=f"k={args.k}")]
    filter_report = None
    if reranker is not None:
        reranked, deepest = _reranked_systems(args, reranker, queries, retrieved, depths, show)
        systems += reranked
        if filtering:
            kept = kept_documents(retrieved, deepest, args.min_entailment, args.max_contradiction)
            filter_report = evaluate_filter(qrels, kept)
    baseline = args.retriever if args.baseline == "retriever" else args.baseline
    report = compare(systems, qrels, args.metrics, baseline=baseline, seed=args.seed)
    sample = f", fixed-seed sample of {len(ids)} (seed {args.seed})" if args.sample else ""
    shown = ", ".join(map(str, sorted(depths)))
    print(f"{data.name} {args.split}: {len(ids)} queries{sample}, retrieval k={args.k}, rerank depth={shown}")
    print(report.to_markdown())
    if filter_report is not None:
        print(f"\nfiltering (top {depths[0]}): precision {filter_report.precision:.4f}, "
              f"recall {filter_report.recall:.4f}, F1 {filter_report.f1:.4f}, "
              f"queries left empty {filter_report.empty_fraction:.1%}")  # fmt: skip
    if args.out:
        payload = report.to_dict() | {"dataset": str(args.dataset), "split": args.split, "queries": ids}
        if filter_report is not None:
            payload["filtering"] = filter_report.to_dict()
        write_text_atomic(args.out, json.dumps(payload, indent=1) + "\n")  # a killed write leaves the old file
        print(f"wrote {args.out}", file=sys.stderr)
    if args.runs_dir:
        for system in systems:
            safe = system.name.replace("/", "_").replace("+", "_")
            write_trec_run(system.run, Path(args.runs_dir) / f"{safe}.trec", tag=safe)
    if args.plot:
        report.plot_differences(args.plot)
    return 0


_LANGUAGE_SUFFIX = re.compile(r"(?:^|[_.-])([a-z]{2})$")  # "fr", "xnli_fr", "mnli.de": an ISO 639-1 code at the end


def _nli_set_language(name: str) -> str | None:
    """The language a pair file's name ends with (``fr`` for fr.tsv or xnli_fr.tsv), None when it names none."""
    match = _LANGUAGE_SUFFIX.search(name)
    return match.group(1) if match else None


def _nli_set_names(paths: list[str], stems: list[str]) -> list[str]:
    """Each file's set name: its stem, or parent/stem where two files share a stem (xnli_dev/en, xnli_test/en)."""
    return [
        f"{Path(path).parent.name}/{stem}" if stems.count(stem) > 1 else stem
        for path, stem in zip(paths, stems, strict=True)
    ]


def _nli_row(cells: list[object]) -> str:
    return "| " + " | ".join(f"{cell:.4f}" if isinstance(cell, float) else str(cell) for cell in cells) + " |"


def run_nli(args: argparse.Namespace) -> int:
    from eval import evaluate_nli, load_nli_tsv

    check_reranker_flags(args)
    _check_cache(args.cache)
    if args.out:
        _check_target("--out", args.out, folder=False)
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be a positive number of pairs, got {args.limit}")
    sets = [load_nli_tsv(path, limit=args.limit) for path in args.data]  # every file is read before the model loads
    names = _nli_set_names(args.data, [examples.name for examples in sets])
    reranker = build_reranker(args, show_progress=not args.no_progress)
    if not isinstance(reranker, NLIReranker):
        raise ValueError(f"{args.model!r} is a relevance cross-encoder (one logit); eval-nli needs an NLI model")
    reports = {}
    metrics = ("accuracy", "macro_f1", "ece", "brier")
    print("| language | set | n | accuracy | macro-F1 | ECE (15 bins) | Brier |")
    print("|---|---|---|---|---|---|---|")
    with _scorer(reranker, args.cache) as scorer:
        for name, examples in zip(names, sets, strict=True):
            report = evaluate_nli(examples.labels, scorer.score_pairs(examples.premises, examples.hypotheses))
            language = _nli_set_language(examples.name)
            reports[name] = report.to_dict() | {"language": language}
            print(_nli_row([language or "-", name, report.n, *(getattr(report, metric) for metric in metrics)]))
    payload: dict = {"model": args.model, "reports": reports}
    if len(reports) > 1:  # each set counts once, whatever its size
        mean = {metric: sum(report[metric] for report in reports.values()) / len(reports) for metric in metrics}
        payload["mean"] = {"sets": len(reports), "n": sum(report["n"] for report in reports.values())} | mean
        print(_nli_row(["mean", f"{len(reports)} sets", payload["mean"]["n"], *mean.values()]))
    if args.out:
        write_text_atomic(args.out, json.dumps(payload, indent=1) + "\n")
    return 0
