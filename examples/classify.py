"""Zero-shot classification: sort short texts into labels no model was trained on, with an NLI model.

``rerank.classify`` scores each (text, "This example is <label>.") pair, all in one pass, exactly as the
transformers zero-shot-classification pipeline does (docs/tasks.md). Offline, with the small test model of the
project's shared folder by default:

    python examples/classify.py
    python examples/classify.py --multi-label --model MoritzLaurer/mDeBERTa-v3-base-xnli-multilingual-nli-2mil7

The default model (mini-nli-minilm-l6) is a small test asset; a larger NLI model separates the labels better.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rerank import ModelLoadError, NLIReranker, classify

HERE = Path(__file__).resolve().parent
MINI_MODEL = HERE.parents[1] / "shared" / "models" / "mini-nli-minilm-l6"
LABELS = ["sports", "politics", "cooking", "technology"]
TEXTS = [
    "The striker scored twice in the second half and the home side won the cup.",
    "Parliament passed the budget after a long night of debate.",
    "Whisk the eggs with sugar, then fold in the flour and bake for twenty minutes.",
    "The new phone has a faster chip and a better camera.",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("texts", nargs="*", default=TEXTS, help="texts to classify (default: four examples)")
    parser.add_argument("--labels", nargs="+", default=LABELS, help=f"candidate labels (default {LABELS})")
    parser.add_argument("--multi-label", action="store_true", help="score each label on its own")
    parser.add_argument(
        "--model", default=str(MINI_MODEL), help=f"NLI model directory or hub id (default {MINI_MODEL})"
    )
    args = parser.parse_args()
    if args.model == str(MINI_MODEL) and not MINI_MODEL.is_dir():
        print(f"classify: the default model {MINI_MODEL} is absent; pass --model path/to/nli-model", file=sys.stderr)
        return 1
    try:
        reranker = NLIReranker(args.model, show_progress=False)
    except ModelLoadError as error:
        print(f"classify: {error}", file=sys.stderr)
        return 1
    results = classify(args.texts, args.labels, model=reranker, multi_label=args.multi_label)
    kind = "multi-label: each label on its own" if args.multi_label else "single-label: scores sum to 1"
    print(f"model: {args.model}; {kind}")
    for result in results:
        ranked = ", ".join(f"{label} {score:.2f}" for label, score in zip(result.labels, result.scores, strict=True))
        print(f"\n{result.text}\n  -> {result.label}   ({ranked})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
