"""``rerank classify``: zero-shot classification of texts into candidate labels with an NLI model (rerank.classify).

Each text is scored whole against one hypothesis per label (``--template``, default "This example is {}."), all
pairs in one scoring pass; the scores are the transformers zero-shot-classification pipeline's (docs/tasks.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rerank.classify import DEFAULT_CLASSIFY_TEMPLATE, Classification
from rerank_cli.common import add_model_options, model_options, print_json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "classify", help="zero-shot classification of texts into labels", description=__doc__
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", nargs="+", help="one or more texts to classify")
    source.add_argument("--text-file", type=Path, help="a UTF-8 text file with one text per non-blank line")
    parser.add_argument(
        "--candidate-labels", nargs="+", required=True, metavar="LABEL", help="the labels to choose from"
    )
    parser.add_argument(
        "--template", default=DEFAULT_CLASSIFY_TEMPLATE,
        help=f"hypothesis with one {{}} for the label (default {DEFAULT_CLASSIFY_TEMPLATE!r})",
    )  # fmt: skip
    parser.add_argument(
        "--multi-label", action="store_true",
        help="score each label on its own (entailment vs contradiction) instead of a softmax across labels",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print JSON (one result per text) instead of text")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_model_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rerank.classify import classify
    from rerank.nli_reranker import NLIReranker

    texts = args.text if args.text is not None else _read_texts(args.text_file)
    for number, text in enumerate(texts, start=1):
        if not text.strip():
            raise ValueError(f"--text number {number} is empty; pass the text to classify")
    # the labels and the template are checked before any model loads (no texts: nothing is scored)
    classify([], args.candidate_labels, template=args.template, multi_label=args.multi_label)
    options = model_options(args, show_progress=not args.no_progress)
    reranker = NLIReranker(args.model, labels=args.labels, options=options)
    results = classify(texts, args.candidate_labels, reranker, template=args.template, multi_label=args.multi_label)
    if args.json:
        print_json([result.model_dump(mode="json") for result in results])
        return 0
    for result in results:
        _print_result(result)
    return 0


def _read_texts(path: Path) -> list[str]:
    from rerank.corpus import iter_lines

    if not path.is_file():
        raise FileNotFoundError(f"text file not found: {path}")
    texts = [line.strip() for _, line in iter_lines(path) if line.strip()]
    if not texts:
        raise ValueError(f"text file {path} holds no texts (one text per non-blank line)")
    return texts


def _print_result(result: Classification) -> None:
    print(f"text: {result.text}")
    for label, score in zip(result.labels, result.scores, strict=True):
        print(f"  {score:.3f}  {label}")
    print()
