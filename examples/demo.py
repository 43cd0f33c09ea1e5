"""Retrieve with BM25 from examples/corpus.jsonl and rerank with an NLI cross-encoder.

Run with ``make demo`` (default model, needs the Hugging Face hub or a cached copy) or
``make demo MODEL=path/to/local/nli-model``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rerank import DEFAULT_MODEL, ModelLoadError, NLIReranker, Pipeline
from retrievers import BM25Retriever, load_corpus

CLAIMS = [
    "Aspirin reduces the risk of heart attack.",
    "Vitamin D prevents hip fractures.",
    "Sugar makes children hyperactive.",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="NLI model: hub id or local directory")
    parser.add_argument("--corpus", default=str(Path(__file__).with_name("corpus.jsonl")))
    args = parser.parse_args()
    try:
        reranker = NLIReranker(args.model, show_progress=False)
    except ModelLoadError as error:
        print(f"demo: {error}\nRun e.g.: make demo MODEL=path/to/nli-model", file=sys.stderr)
        return 1
    documents = load_corpus(args.corpus)
    pipeline = Pipeline(BM25Retriever(documents), reranker, k=10, top_k=3, max_contradiction=0.5)
    print(f"model: {args.model} ({len(documents)} documents, BM25 top 10, reranked, contradicting passages filtered)")
    for claim, results in zip(CLAIMS, pipeline.search_many(CLAIMS), strict=True):
        print(f"\nclaim: {claim}")
        for result in (r for r in results if r.kept):
            scores = result.scores
            print(
                f"  {result.rank}. {result.document.id:<20} entailment={scores.entailment:.3f} "
                f"contradiction={scores.contradiction:.3f} (BM25 rank {result.candidate.retriever_rank})"
            )
            if result.evidence is not None:
                print(f"     evidence: {result.evidence.sentence}")
        filtered = [r.document.id for r in results if not r.kept]
        if filtered:
            print(f"  filtered out as contradicting (> 0.5): {', '.join(filtered)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
