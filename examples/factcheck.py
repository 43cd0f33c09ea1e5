"""Fact-check claims against a small corpus: BM25 finds candidate abstracts, ``rerank.verify`` reads their sentences.

Offline, with the small test model of the project's shared folder by default:

    python examples/factcheck.py
    python examples/factcheck.py --model path/to/nli-model --k 2 "Coffee protects the liver."

The default model (mini-nli-minilm-l6) is a weak test asset: it tends to call an unrelated sentence a
contradiction, so it is run here with --k 1 (only the best BM25 match is read). Use a real NLI model, such as
cross-encoder/nli-deberta-v3-small, for real fact-checking.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rerank import ModelLoadError, NLIReranker
from rerank.verify import verify_many
from retrievers import BM25Retriever, load_corpus

HERE = Path(__file__).resolve().parent
MINI_MODEL = HERE.parents[1] / "shared" / "models" / "mini-nli-minilm-l6"
CLAIMS = [
    "Sleep helps memory.",
    "Walking raises blood pressure.",
    "Drinking coffee lowers the risk of liver disease.",
    "Jupiter has 95 moons.",  # no document shares a word with it: not enough info
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("claims", nargs="*", default=CLAIMS, help="claims to check (default: four examples)")
    parser.add_argument(
        "--model", default=str(MINI_MODEL), help=f"NLI model directory or hub id (default {MINI_MODEL})"
    )
    parser.add_argument("--corpus", default=str(HERE / "claims_corpus.jsonl"), help="JSONL documents")
    parser.add_argument("--k", type=int, default=1, help="abstracts retrieved per claim (default 1)")
    args = parser.parse_args()
    if args.model == str(MINI_MODEL) and not MINI_MODEL.is_dir():
        print(f"factcheck: the default model {MINI_MODEL} is absent; pass --model path/to/nli-model", file=sys.stderr)
        return 1
    documents = load_corpus(args.corpus)
    retriever = BM25Retriever(documents, show_progress=False)
    try:
        reranker = NLIReranker(args.model, show_progress=False)
    except ModelLoadError as error:
        print(f"factcheck: {error}", file=sys.stderr)
        return 1
    evidence = [[candidate.document for candidate in retriever.retrieve(claim, args.k)] for claim in args.claims]
    verdicts = verify_many(args.claims, evidence, model=reranker)  # every claim's sentences in one scoring pass
    print(f"model: {args.model}; corpus: {args.corpus} ({len(documents)} documents), BM25 top {args.k} per claim")
    for verdict in verdicts:
        print(f"\nclaim: {verdict.claim}\n  {verdict.label} (confidence {verdict.confidence:.2f}): {verdict.reason}")
        for item in verdict.evidence[:2]:
            print(f"  evidence [{item.document_id} {item.span}]: {item.text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
