"""``rerank answers``: rank candidate answers to a question with an NLI model (rerank.rank_answers).

With ``--context`` (or ``--context-file``) the context is the premise, read in windows when long, and each answer
makes a hypothesis ("The answer to '<question>' is <answer>."); without one, each answer is the premise and the
question alone makes the hypothesis. Every pair is scored in one pass (docs/tasks.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rerank.answers import DEFAULT_ANSWER_TEMPLATE, DEFAULT_GRANULARITY, DEFAULT_QUESTION_TEMPLATE, RankedAnswer
from rerank.segmenter import DEFAULT_WINDOW_TOKENS, GRANULARITIES
from rerank_cli.common import add_model_options, model_options, print_json


def register(subparsers) -> None:
    parser = subparsers.add_parser("answers", help="rank candidate answers to a question", description=__doc__)
    parser.add_argument("--question", required=True, help="the question")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--answer", nargs="+", help="one or more candidate answers")
    source.add_argument("--answer-file", type=Path, help="a UTF-8 text file with one answer per non-blank line")
    context = parser.add_mutually_exclusive_group()
    context.add_argument("--context", default=None, help="the text the answers are read from (the premise)")
    context.add_argument("--context-file", type=Path, default=None, help="a UTF-8 text file holding the context")
    parser.add_argument(
        "--answer-template", default=DEFAULT_ANSWER_TEMPLATE,
        help=f"hypothesis with a context, fields {{question}} and {{answer}} (default {DEFAULT_ANSWER_TEMPLATE!r})",
    )  # fmt: skip
    parser.add_argument(
        "--question-template", default=DEFAULT_QUESTION_TEMPLATE,
        help=f"hypothesis without a context, field {{question}} (default {DEFAULT_QUESTION_TEMPLATE!r})",
    )  # fmt: skip
    parser.add_argument("--granularity", choices=GRANULARITIES, default=DEFAULT_GRANULARITY,
                        help=f"how the premise is cut (default {DEFAULT_GRANULARITY})")  # fmt: skip
    parser.add_argument("--window-tokens", type=int, default=DEFAULT_WINDOW_TOKENS,
                        help=f"token budget of a window (default {DEFAULT_WINDOW_TOKENS})")  # fmt: skip
    parser.add_argument("--language", default=None, help="language code for sentence splitting (default English)")
    parser.add_argument("--json", action="store_true", help="print JSON (the ranked answers) instead of text")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_model_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rerank.answers import rank_answers
    from rerank.nli_reranker import NLIReranker

    answers = args.answer if args.answer is not None else _read_lines(args.answer_file, "answer")
    for number, answer in enumerate(answers, start=1):
        if not answer.strip():
            raise ValueError(f"--answer number {number} is empty; pass the candidate answer")
    context = args.context if args.context_file is None else _read_context(args.context_file)
    templates = {"answer_template": args.answer_template, "question_template": args.question_template}
    rank_answers(args.question, [], context, **templates)  # question, context, templates checked before any model
    options = model_options(args, show_progress=not args.no_progress)
    reranker = NLIReranker(args.model, labels=args.labels, granularity=args.granularity,
                           window_tokens=args.window_tokens, language=args.language, options=options)  # fmt: skip
    ranked = rank_answers(args.question, answers, context, reranker, **templates)
    if args.json:
        print_json([answer.model_dump(mode="json") for answer in ranked])
        return 0
    _print_ranking(args.question, ranked)
    return 0


def _read_lines(path: Path, what: str) -> list[str]:
    from rerank.corpus import iter_lines

    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {path}")
    lines = [line.strip() for _, line in iter_lines(path) if line.strip()]
    if not lines:
        raise ValueError(f"{what} file {path} holds no {what}s (one per non-blank line)")
    return lines


def _read_context(path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"context file not found: {path}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None


def _print_ranking(question: str, ranked: list[RankedAnswer]) -> None:
    print(f"question: {question}")
    for answer in ranked:
        print(f"  {answer.rank}. {answer.answer}  (entailment {answer.p_entailment:.3f}, neutral "
              f"{answer.p_neutral:.3f}, contradiction {answer.p_contradiction:.3f})")  # fmt: skip
        where = f"chars {answer.evidence.span[0]}-{answer.evidence.span[1]}" if answer.evidence.span else "no span"
        print(f"     evidence [{answer.evidence.document_id}, {where}]: {answer.evidence.text}")
