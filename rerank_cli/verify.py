"""``rerank verify``: is a claim supported, refuted, or not decided by the evidence? (rerank.verify)

The evidence is a file of passages (``--evidence``: JSONL documents, or plain text with one passage per line), or
the BM25 top ``--k`` of a JSONL corpus for each claim (``--corpus``). Every claim is checked in one scoring pass.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rerank.records import Document
from rerank.verify import DEFAULT_MAX_CONTRADICTION, DEFAULT_MIN_ENTAILMENT, Verdict
from rerank_cli.common import add_reranker_options, build_reranker, check_reranker_flags, print_json

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify", help="fact-check claims against evidence", description=__doc__, conflict_handler="resolve"
    )
    parser.add_argument("--claim", required=True, nargs="+", help="one or more claims to check (the hypotheses)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--evidence", type=Path, help="passages to check every claim against: .jsonl[.gz] documents or text lines"
    )
    source.add_argument(
        "--corpus", type=Path, help="JSONL or .jsonl.gz corpus: check each claim against its BM25 top k"
    )
    parser.add_argument("--k", type=int, default=5, help="with --corpus: documents retrieved per claim (default 5)")
    parser.add_argument("--json", action="store_true", help="print JSON (a list of verdicts) instead of text")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_reranker_options(parser)
    # Verify reads the two NLI thresholds as its decision rule (rerank.verify) and has no use for the others.
    group = parser.add_argument_group("decision rule (rerank.verify)")
    group.add_argument(
        "--min-entailment", type=float, default=None,
        help="a segment with entailment >= this supports the claim (default: the --calibration file's, else "
        f"{DEFAULT_MIN_ENTAILMENT})",
    )  # fmt: skip
    group.add_argument(
        "--max-contradiction", type=float, default=None,
        help="a segment with contradiction > this refutes the claim (default: the --calibration file's, else "
        f"{DEFAULT_MAX_CONTRADICTION})",
    )  # fmt: skip
    for hidden in ("--fusion-weight", "--min-score"):
        parser.add_argument(hidden, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rerank.nli_reranker import NLIReranker
    from rerank.validation import check_positive_int
    from rerank.verify import verify_many

    if args.min_score is not None or args.fusion_weight is not None:
        raise ValueError("verify takes --min-entailment and --max-contradiction only (no --min-score, --fusion-weight)")
    for number, claim in enumerate(args.claim, start=1):
        if not claim.strip():
            raise ValueError(f"--claim number {number} is empty; pass the statement to check")
    check_positive_int("--k", args.k)
    check_reranker_flags(args, show_progress=not args.no_progress)  # before any file or model is read
    evidence = _read_evidence(args.evidence) if args.evidence else None
    documents = _read_corpus(args.corpus) if args.corpus else None
    reranker = build_reranker(args, show_progress=not args.no_progress)
    if not isinstance(reranker, NLIReranker):
        raise ValueError(f"verify needs an NLI model; {args.model!r} is a relevance cross-encoder (one output logit)")
    if documents is not None:
        from retrievers import BM25Retriever

        retriever = BM25Retriever(documents, show_progress=False)
        per_claim = [[c.document for c in retriever.retrieve(claim, args.k)] for claim in args.claim]
    else:
        per_claim = [evidence or [] for _ in args.claim]
    verdicts = verify_many(
        args.claim, per_claim, reranker, min_entailment=args.min_entailment, max_contradiction=args.max_contradiction
    )
    if args.json:
        print_json([verdict.model_dump(mode="json") for verdict in verdicts])
        return 0
    for verdict in verdicts:
        _print_verdict(verdict)
    return 0


def _read_evidence(path: Path) -> list[Document]:
    """Documents from a JSONL file (rerank.corpus), or one per non-blank line of a text file (id: its line number)."""
    from rerank.corpus import iter_lines, load_corpus

    if path.name.endswith(JSONL_SUFFIXES):
        return load_corpus(path)
    if not path.is_file():
        raise FileNotFoundError(f"evidence file not found: {path}")
    return [Document(id=str(number), text=line.strip()) for number, line in iter_lines(path) if line.strip()]


def _read_corpus(path: Path) -> list[Document]:
    from rerank.corpus import load_corpus

    documents = load_corpus(path)
    if not documents:
        raise ValueError(f"corpus {path} holds no documents")
    return documents


def _print_verdict(verdict: Verdict) -> None:
    print(f"claim: {verdict.claim}")
    print(f"  verdict: {verdict.label} (confidence {verdict.confidence:.3f})")
    print(f"  why: {verdict.reason}")
    for item in verdict.evidence[:5]:
        where = f"chars {item.span[0]}-{item.span[1]}" if item.span else "no span"
        print(f"  - [{item.document_id}, {where}] entailment {item.p_entailment:.3f}, "
              f"contradiction {item.p_contradiction:.3f}: {item.text}")  # fmt: skip
    if len(verdict.evidence) > 5:
        print(f"  ... and {len(verdict.evidence) - 5} more segment(s) (--json lists them all)")
    print()
