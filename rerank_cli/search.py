"""``rerank search``: BM25 over a JSONL corpus, then NLI reranking of the top k."""

from __future__ import annotations

import argparse

from rerank.records import RankedResult, RelevanceResult, RerankResult
from rerank_cli.common import (
    add_reranker_options,
    build_reranker,
    check_reranker_flags,
    print_json,
    score_fields,
    thresholds,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser("search", help="retrieve from a corpus and rerank", description=__doc__)
    parser.add_argument("--corpus", required=True, help="JSONL or .jsonl.gz corpus (id/_id/doc_id, text, title)")
    parser.add_argument("--query", required=True, nargs="+", help="one or more queries")
    parser.add_argument("--k", type=int, default=30, help="candidates retrieved per query (default 30)")
    parser.add_argument("--top-k", type=int, default=5, help="results shown per query (default 5)")
    parser.add_argument("--no-rerank", action="store_true", help="show the retriever's ranking only")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_reranker_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rerank.pipeline import Pipeline
    from rerank.validation import check_positive_int, check_query
    from retrievers import BM25Retriever, load_corpus

    check_positive_int("--k", args.k), check_positive_int("--top-k", args.top_k)  # before any file or model is read
    for query in args.query:
        check_query(query)
    if not args.no_rerank:
        check_reranker_flags(args)
    documents = load_corpus(args.corpus)
    reranker = None if args.no_rerank else build_reranker(args)
    pipeline = Pipeline(
        BM25Retriever(documents), reranker, k=args.k, top_k=args.top_k,
        **(thresholds(args, reranker) if reranker else {}),
    )  # fmt: skip
    output = []
    for query in args.query:
        results = pipeline.search(query)
        output.append({"query": query, "results": [_row(r) for r in results]})
    if args.json:
        print_json(output)
        return 0
    for block in output:
        print(f"query: {block['query']}")
        for row in block["results"]:
            marker = "" if row.get("kept", True) else "  [filtered out]"
            scores = "  ".join(f"{k}={row[k]:.3f}" for k in ("score", "entailment", "contradiction") if k in row)
            print(f"  {row['rank']:>3}. {row['id']}  {scores}{marker}")
            print(f"       {row.get('evidence') or row['text'][:100]}")
    return 0


def _row(result: RankedResult) -> dict:
    row = {
        "rank": result.rank,
        "id": result.document.id,
        "score": result.score,
        "text": result.document.content,
    }
    if isinstance(result, (RerankResult, RelevanceResult)):
        row.update(kept=result.kept, retriever_rank=result.candidate.retriever_rank)
    if isinstance(result, RerankResult):  # a relevance result's score is already in "score"
        row.update(score_fields(result))
    return row
