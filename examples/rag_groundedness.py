"""After generation: is every statement of a RAG answer supported by the passages it was generated from?

A question, the passages a retriever returned for it, and an answer in which one statement (the mayor's speech) is
in none of the passages. ``rerank.groundedness`` checks each sentence of the answer against every passage window and
flags the invented one. Offline, with the small test model of the project's shared folder by default:

    python examples/rag_groundedness.py
    python examples/rag_groundedness.py --model cross-encoder/nli-deberta-v3-small

The default model (mini-nli-minilm-l6) is a weak test asset: it often scores unrelated passages as contradictions,
which is why a sentence some passage entails stays SUPPORTED whatever another passage says (the label rule in
docs/groundedness.md). Use a real NLI model for real answers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rerank import Document, ModelLoadError, NLIReranker, groundedness

HERE = Path(__file__).resolve().parent
MINI_MODEL = HERE.parents[1] / "shared" / "models" / "mini-nli-minilm-l6"
QUESTION = "What happened at the concert in the park?"
PASSAGES = [
    Document(
        id="concert",
        text="A jazz band played in the city park on Saturday evening. Hundreds of people sat on the grass to listen.",
    ),
    Document(id="weather", text="The weather was warm and the sky was clear all evening."),
    Document(id="food", text="Food trucks sold tacos and ice cream near the entrance."),
]
ANSWER = (
    "A jazz band played in the park on Saturday. Many people sat on the grass. The weather was warm. "
    "The mayor gave a speech before the music started."  # invented: no passage says so
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(MINI_MODEL), help=f"NLI model directory or hub id ({MINI_MODEL})")
    parser.add_argument("--backend", default="auto", help="inference backend: auto, torch, onnx or openvino")
    args = parser.parse_args()
    if args.model == str(MINI_MODEL) and not MINI_MODEL.is_dir():
        print(f"rag_groundedness: the default model {MINI_MODEL} is absent; pass --model path/to/nli-model",
              file=sys.stderr)  # fmt: skip
        return 1
    try:
        reranker = NLIReranker(args.model, granularity="window", backend=args.backend, show_progress=False)
    except ModelLoadError as error:
        print(f"rag_groundedness: {error}", file=sys.stderr)
        return 1
    result = groundedness(ANSWER, PASSAGES, model=reranker)
    print(f"question: {QUESTION}\nanswer: {ANSWER}\n")
    for check in result.sentences:
        source = check.evidence.document_id if check.evidence else "-"
        print(f"  {check.label:<12} entailment {check.p_entailment:.2f}  best passage {source:<8} {check.text}")
    print(f"\nscore {result.score:.2f} (mean), min {result.min_score:.2f}; fully supported: {result.fully_supported}")
    for check in result.flagged:
        print(f"flagged [{check.span[0]}:{check.span[1]}]: {check.text}\n  why: {check.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
