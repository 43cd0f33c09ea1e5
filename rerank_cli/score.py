"""``rerank score``: NLI (or relevance) probabilities for one query against the given documents."""

from __future__ import annotations

import argparse

from rerank_cli.common import add_reranker_options, build_reranker, print_json, score_fields, thresholds


def register(subparsers) -> None:
    parser = subparsers.add_parser("score", help="score documents against a query", description=__doc__)
    parser.add_argument("--query", required=True, help="the query or claim (the hypothesis)")
    parser.add_argument("--doc", nargs="+", required=True, help="one or more passages (the premises)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_reranker_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rerank.records import has_visible_text
    from rerank.validation import check_query

    check_query(args.query)  # before the model loads
    for number, doc in enumerate(args.doc, start=1):
        if not has_visible_text(doc):
            raise ValueError(f"--doc number {number} is empty; pass passages with text to score")
    reranker = build_reranker(args, show_progress=False)
    results = reranker.rerank(args.query, args.doc, **thresholds(args, reranker))
    rows = [_row(result) for result in results]
    if args.json:
        print_json({"query": args.query, "model": args.model, "results": rows})
        return 0
    nli = "entailment" in reranker.columns
    header = "rank  kept  entail  neutral  contra  document" if nli else "rank  kept  relevance  document"
    print(header)
    for row in rows:
        preview = row["text"] if len(row["text"]) <= 70 else row["text"][:67] + "..."
        if nli:
            print(
                f"{row['rank']:>4}  {'yes' if row['kept'] else 'no':>4}  {row['entailment']:.4f}  "
                f"{row['neutral']:.4f}   {row['contradiction']:.4f}  {preview}"
            )
        else:
            print(f"{row['rank']:>4}  {'yes' if row['kept'] else 'no':>4}  {row['relevance']:.4f}     {preview}")
    return 0


def _row(result) -> dict:
    return {"rank": result.rank, "kept": result.kept, "text": result.document.text, **score_fields(result)}
