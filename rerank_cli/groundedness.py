"""``rerank groundedness``: is each sentence of a generated answer supported by the passages it came from?
(rerank.groundedness)

The answer is ``--answer TEXT`` or the contents of ``--answer-file``; the passages are ``--passages FILE``: JSONL
documents (``.jsonl``, ``.jsonl.gz`` or ``.json``, read by rerank.corpus: ids from ``id``/``_id``/``doc_id``) or any
other file as plain text with one passage per non-blank line (id: its line number). Passages are read as windows of
sentences unless ``--granularity`` says otherwise. The default output marks each sentence: ``ok`` supported,
``!! UNSUPPORTED``, ``XX CONTRADICTED``; ``--json`` prints the Groundedness record.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rerank.groundedness import DEFAULT_MAX_CONTRADICTION, DEFAULT_MIN_ENTAILMENT, Groundedness, SentenceCheck
from rerank.records import Document
from rerank_cli.common import add_reranker_options, build_reranker, check_reranker_flags, print_json

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json")
MARKS = {"SUPPORTED": "ok", "UNSUPPORTED": "!!", "CONTRADICTED": "XX"}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "groundedness", help="check a generated answer against its passages", description=__doc__,
        conflict_handler="resolve", formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    answer = parser.add_mutually_exclusive_group(required=True)
    answer.add_argument("--answer", help="the generated answer (its sentences are the hypotheses)")
    answer.add_argument("--answer-file", type=Path, help="a UTF-8 text file holding the answer")
    parser.add_argument("--passages", type=Path, required=True,
                        help="the passages: .jsonl[.gz] documents, or text with one passage per line")  # fmt: skip
    parser.add_argument("--max-sentence-tokens", type=int, default=None,
                        help="cut a longer answer sentence into windows of this many tokens (default: what the "
                        "model leaves after a passage window)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of text")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_reranker_options(parser)
    parser.set_defaults(granularity="window")
    group = parser.add_argument_group("label rule (rerank.groundedness)")
    group.add_argument(
        "--min-entailment", type=float, default=None,
        help="a segment with entailment >= this supports a sentence (default: the --calibration file's, else "
        f"{DEFAULT_MIN_ENTAILMENT})",
    )  # fmt: skip
    group.add_argument(
        "--max-contradiction", type=float, default=None,
        help="a segment with contradiction > this contradicts a sentence no segment supports (default: the "
        f"--calibration file's, else {DEFAULT_MAX_CONTRADICTION})",
    )  # fmt: skip
    for hidden in ("--fusion-weight", "--min-score", "--template"):
        parser.add_argument(hidden, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rerank.groundedness import groundedness
    from rerank.nli_reranker import NLIReranker

    for flag in ("min_score", "fusion_weight", "template"):
        if getattr(args, flag) is not None:
            raise ValueError("groundedness takes --min-entailment and --max-contradiction only (no --min-score, "
                             "--fusion-weight or --template: answer sentences are checked as written)")  # fmt: skip
    check_reranker_flags(args, show_progress=not args.no_progress)  # before any file or model is read
    answer = args.answer if args.answer is not None else _read_answer(args.answer_file)
    if not answer.strip():
        raise ValueError("the answer is empty; pass the generated text with --answer or --answer-file")
    passages = _read_passages(args.passages)
    model: str | NLIReranker = args.model  # without passages no model is loaded
    if passages:
        built = build_reranker(args, show_progress=not args.no_progress)
        if not isinstance(built, NLIReranker):
            raise ValueError(f"groundedness needs an NLI model; {args.model!r} is a relevance cross-encoder")
        model = built
    result = groundedness(
        answer, passages, model, min_entailment=args.min_entailment, max_contradiction=args.max_contradiction,
        calibration=args.calibration if not passages else None, max_sentence_tokens=args.max_sentence_tokens,
    )  # fmt: skip
    if args.json:
        print_json(result.model_dump(mode="json"))
        return 0
    _print_result(result)
    return 0


def _read_answer(path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"answer file not found: {path}")
    return path.read_text(encoding="utf-8")


def _read_passages(path: Path) -> list[Document]:
    """Documents from a JSONL file (rerank.corpus), or one per non-blank line of a text file (id: its line number)."""
    from rerank.corpus import iter_lines, load_corpus

    if path.name.endswith(JSONL_SUFFIXES):
        return load_corpus(path)
    if path.is_dir():
        raise IsADirectoryError(f"passages {path} is a directory; give a .jsonl or text file")
    if not path.is_file():
        raise FileNotFoundError(f"passages file not found: {path}")
    return [Document(id=str(number), text=line.strip()) for number, line in iter_lines(path) if line.strip()]


def _print_result(result: Groundedness) -> None:
    counts = {label: sum(s.label == label for s in result.sentences) for label in MARKS}
    verdict = "yes" if result.fully_supported else "no"
    print(f"fully supported: {verdict}; {len(result.sentences)} sentence(s): {counts['SUPPORTED']} supported, "
          f"{counts['UNSUPPORTED']} unsupported, {counts['CONTRADICTED']} contradicted; score {result.score:.3f} "
          f"(mean entailment), min {result.min_score:.3f}")  # fmt: skip
    print(f"rule: min_entailment {result.min_entailment:g}, max_contradiction {result.max_contradiction:g}\n")
    for check in result.sentences:
        _print_sentence(check, result.max_contradiction)


def _print_sentence(check: SentenceCheck, max_contradiction: float) -> None:
    name = "" if check.label == "SUPPORTED" else f" {check.label}"
    print(f"{MARKS[check.label]}{name} [chars {check.span[0]}-{check.span[1]}] {check.text}")
    print(f"   entailment {check.p_entailment:.3f}, contradiction {check.p_contradiction:.3f}"
          + (f", scored in {check.parts} windows" if check.parts > 1 else ""))  # fmt: skip
    shown = check.contradiction if check.label == "CONTRADICTED" else check.evidence
    if check.label != "SUPPORTED" or check.p_contradiction > max_contradiction:  # flagged, or conflicting passages
        print(f"   why: {check.reason}")
    if shown is not None:
        where = f"chars {shown.span[0]}-{shown.span[1]}" if shown.span else "no span"
        word = "contradicted by" if check.label == "CONTRADICTED" else "best support"
        print(f"   {word}: [{shown.document_id}, {where}] {_preview(shown.text)}")


def _preview(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."
