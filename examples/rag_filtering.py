"""Before generation: keep the retrieved passages that support a statement, drop those that contradict it.

BM25 retrieves candidates for a statement from a small corpus; ``NLIReranker.rerank`` scores every sentence of each
candidate against it and drops a candidate whose strongest contradiction is above ``--max-contradiction``. What is
left (in entailment order) is the context a generator would get. Offline, with the small test model of the
project's shared folder by default:

    python examples/rag_filtering.py
    python examples/rag_filtering.py --model cross-encoder/nli-deberta-v3-small "Coffee protects the liver."

The default model (mini-nli-minilm-l6) is a weak test asset: it calls unrelated passages contradictions and misses the
negation in "did not reduce" (it keeps vitd-fracture as entailing the default statement). Use a
real NLI model for real filtering.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rerank import ModelLoadError, NLIReranker
from retrievers import BM25Retriever, load_corpus

HERE = Path(__file__).resolve().parent
MINI_MODEL = HERE.parents[1] / "shared" / "models" / "mini-nli-minilm-l6"
STATEMENT = "Vitamin D supplements reduce hip fractures."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "statement", nargs="?", default=STATEMENT, help=f"what the context should support ({STATEMENT!r})"
    )
    parser.add_argument(
        "--model", default=str(MINI_MODEL), help=f"NLI model directory or hub id (default {MINI_MODEL})"
    )
    parser.add_argument("--corpus", default=str(HERE / "corpus.jsonl"), help="JSONL documents")
    parser.add_argument("--k", type=int, default=5, help="BM25 candidates (default 5)")
    parser.add_argument("--max-contradiction", type=float, default=0.5, help="drop above this (default 0.5)")
    args = parser.parse_args()
    if args.model == str(MINI_MODEL) and not MINI_MODEL.is_dir():
        print(
            f"rag_filtering: the default model {MINI_MODEL} is absent; pass --model path/to/nli-model", file=sys.stderr
        )
        return 1
    retriever = BM25Retriever(load_corpus(args.corpus), show_progress=False)
    candidates = retriever.retrieve(args.statement, args.k)
    try:
        reranker = NLIReranker(args.model, fusion_weight=None, show_progress=False)
    except ModelLoadError as error:
        print(f"rag_filtering: {error}", file=sys.stderr)
        return 1
    results = reranker.rerank(args.statement, candidates, max_contradiction=args.max_contradiction)
    print(
        f"statement: {args.statement}\nBM25 top {len(candidates)}, filtered at contradiction > {args.max_contradiction}"
    )
    for result in results:
        scores = result.scores
        mark = "keep" if result.kept else "DROP"
        print(f"  {mark} {result.document.id:<22} entailment {scores.entailment:.2f}  contradiction "
              f"{scores.contradiction:.2f}")  # fmt: skip
    kept = [result for result in results if result.kept]
    print(f"\ncontext for the generator ({len(kept)} of {len(results)} passages):")
    for result in kept:
        print(f"  [{result.document.id}] {result.document.text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
