"""``rerank calibrate``: fit a temperature (NLI model) or Platt scaling (relevance model) on labelled pairs, choose
thresholds on the calibrated probabilities, and write a calibration file for ``--calibration`` / ``calibration=``.

Examples:
    rerank calibrate --model DIR --data ../shared/data/nli/snli_test.tsv --heldout 0.5 --out calibration.json
    rerank calibrate --model ../shared/models/ms-marco-MiniLM-L-12-v2-int8 --dataset ../shared/data/retrieval/scifact
                     --split train --k 20 --out relevance-calibration.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rerank.segmenter import DEFAULT_TITLE, DEFAULT_WINDOW_TOKENS
from rerank_cli.common import add_model_options, build_reranker, check_reranker_flags


def register(subparsers) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = subparsers.add_parser("calibrate", help="fit calibration and thresholds on labelled pairs",
                                   description=__doc__, formatter_class=raw)  # fmt: skip
    parser.add_argument("--out", required=True, help="calibration file to write (JSON, replaced atomically)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", nargs="+", help="NLI model: TSV file(s) with header premise, hypothesis, label")
    source.add_argument("--dataset", help="relevance model: BEIR folder or name; pairs are each query's top --k, "
                        "relevant when the qrels grade is > 0 (unjudged: not relevant)")  # fmt: skip
    parser.add_argument("--limit", type=int, default=None, help="--data: read at most N pairs per file")
    parser.add_argument("--split", default="train", help="--dataset: qrels split (default train)")
    parser.add_argument("--k", type=int, default=20, help="--dataset: candidates per query (default 20)")
    parser.add_argument(
        "--run", dest="run_file", default=None, help="--dataset: TREC run to take the top --k from (default BM25)"
    )
    parser.add_argument("--sample", type=int, default=None, help="--dataset: a fixed-seed sample of N queries")
    parser.add_argument("--heldout", type=float, default=0.0, help="fraction of pairs (of queries with --dataset) "
                        "held out, seeded, to measure the fit and the thresholds on (default 0)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of --heldout and --sample (default 0)")
    parser.add_argument("--target-precision", type=float, default=None, help="choose each threshold for the highest "
                        "recall at this precision on the fit pairs (default: best F1)")  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_model_options(parser)
    # calibration scores whole pairs: the reranker flags calibrate does not offer keep their library defaults
    parser.set_defaults(
        run=run, granularity="passage", title=DEFAULT_TITLE, fusion_weight=None, template=None,
        window_tokens=DEFAULT_WINDOW_TOKENS, aggregate="max", order="entailment", language=None,
    )  # fmt: skip


def _check_args(args: argparse.Namespace) -> None:
    """Every flag that can be checked before any file or model is read; raises ValueError naming it."""
    for flag, value in (("--limit", args.limit), ("--k", args.k), ("--sample", args.sample)):
        if value is not None and value < 1:
            raise ValueError(f"{flag} must be a positive number, got {value}")
    if not 0 <= args.heldout < 1:
        raise ValueError(f"--heldout must be a fraction in [0, 1), got {args.heldout}")
    if args.target_precision is not None and not 0 < args.target_precision <= 1:
        raise ValueError(f"--target-precision must be in (0, 1], got {args.target_precision}")
    if args.data and (args.run_file or args.sample):
        raise ValueError("--run and --sample go with --dataset (relevance pairs), not --data")
    if Path(args.out).is_dir():
        raise ValueError(f"--out {args.out} is a directory; give a file name such as {args.out}/calibration.json")
    check_reranker_flags(args, show_progress=not args.no_progress)


def _nli_pairs(args: argparse.Namespace):
    from rerank.nli_tsv import NLIPairs, read_nli_tsv

    sets = [read_nli_tsv(path, labels=True, limit=args.limit) for path in args.data]
    return NLIPairs(
        premises=[p for s in sets for p in s.premises], hypotheses=[h for s in sets for h in s.hypotheses],
        labels=[label for s in sets for label in s.labels or []], name="+".join(s.name for s in sets),
    )  # fmt: skip


def _relevance_pairs(args: argparse.Namespace, reranker, show: bool):
    """(fit pairs, held-out pairs or None, notes): the top --k of each query, split by query."""
    from eval import load_beir, load_trec_run, resolve_dataset, retrieve_all, sample_query_ids
    from rerank.calibration import RelevancePairs, split_indices

    data = load_beir(resolve_dataset(args.dataset, show_progress=show), args.split)
    ids = sample_query_ids(data.query_ids(), args.sample, args.seed)
    if args.run_file:
        by_id = {document.id: document for document in data.corpus}
        run = load_trec_run(args.run_file)
        missing = sorted({doc for qid in ids for doc in run.get(qid, {}) if doc not in by_id})
        if missing:
            raise ValueError(
                f"--run {args.run_file} names {len(missing)} documents not in the corpus (first {missing[:3]})"
            )
        top = {
            qid: [by_id[d] for d, _ in sorted(run.get(qid, {}).items(), key=lambda x: -x[1])[: args.k]] for qid in ids
        }
        source = f"run {args.run_file}"
    else:
        from retrievers import BM25Retriever

        retrieved = retrieve_all(BM25Retriever(data.corpus, show_progress=show), {q: data.queries[q] for q in ids},
                                 args.k, show_progress=show)  # fmt: skip
        top = {qid: [c.document for c in retrieved.candidates[qid]] for qid in ids}
        source = "BM25"
    fit, held = split_indices(len(ids), args.heldout, args.seed)

    def pairs(positions) -> RelevancePairs:
        chosen = [ids[i] for i in positions]
        rows = [
            (data.queries[q], reranker.segments(d)[0], data.qrels[q].get(d.id, 0) > 0) for q in chosen for d in top[q]
        ]
        return RelevancePairs([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], data.name)

    notes = (
        f"{data.name} {args.split} qrels, {source} top {args.k} of {len(ids)} queries ({len(fit)} fit, {len(held)} "
        "held out); a pair is relevant when its qrels grade is > 0, unjudged pairs are not"
    )
    return pairs(fit), (pairs(held) if len(held) else None), notes


def run(args: argparse.Namespace) -> int:
    from rerank.calibration import calibrate_nli, calibrate_relevance, save_calibration, split_pairs
    from rerank.nli_reranker import NLIReranker

    _check_args(args)
    show = not args.no_progress
    nli_pairs = _nli_pairs(args) if args.data else None  # files are read before the model loads
    reranker = build_reranker(args, show_progress=show)
    is_nli = isinstance(reranker, NLIReranker)
    if is_nli != bool(args.data):
        kind = "an NLI model (give --data NLI TSV files)" if is_nli else "a relevance model (give --dataset)"
        raise ValueError(f"{args.model!r} is {kind}: NLI models calibrate on --data, relevance models on --dataset")
    options = {"target_precision": args.target_precision, "seed": args.seed if args.heldout else None}
    if nli_pairs is not None:
        fit, held = split_pairs(nli_pairs, args.heldout, args.seed)
        record = calibrate_nli(reranker, fit, heldout=held, sources=args.data, **options,
                               notes=f"--limit {args.limit}" if args.limit else "")  # fmt: skip
    else:
        fit, held, notes = _relevance_pairs(args, reranker, show)
        record = calibrate_relevance(reranker, fit, heldout=held, sources=[args.dataset], notes=notes, **options)
    save_calibration(record, args.out)
    _print_summary(record, args.out)
    return 0


def _print_summary(record, out: str) -> None:
    parameters = ", ".join(f"{name} {value:.4g}" for name, value in record.parameters.items())
    held = f", {record.data.heldout_pairs} held out" if record.data.heldout_pairs else ""
    print(f"{record.kind}: {parameters}; fitted on {record.data.fit_pairs} pairs{held}; wrote {out}")
    print("| pairs | n | NLL before | NLL after | ECE before | ECE after | Brier before | Brier after | accuracy |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, pair in record.metrics.items():
        before, after = pair["before"], pair["after"]
        print(f"| {name} | {after.n} | {before.nll:.4f} | {after.nll:.4f} | {before.ece:.4f} | {after.ece:.4f} | "
              f"{before.brier:.4f} | {after.brier:.4f} | {after.accuracy:.4f} |")  # fmt: skip
    for name, choice in record.thresholds.items():
        criterion = "best F1" if choice.target_precision is None else f"precision >= {choice.target_precision}"
        line = f"{name} = {choice.value:.4f} ({criterion}): fit precision {choice.fit.precision:.3f} recall " \
               f"{choice.fit.recall:.3f}"  # fmt: skip
        if choice.heldout is not None:
            line += f"; held-out precision {choice.heldout.precision:.3f} recall {choice.heldout.recall:.3f}"
        print(line)
