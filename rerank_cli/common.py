"""Options and helpers shared by subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rerank.nli_reranker import DEFAULT_FUSION_WEIGHT, DEFAULT_GRANULARITY, DEFAULT_MODEL, GRANULARITIES

__all__ = ["add_reranker_options", "build_reranker", "print_json", "score_fields", "thresholds"]


def _fusion_weight(text: str) -> float | None:
    return None if text.lower() == "none" else float(text)


def add_reranker_options(
    parser: argparse.ArgumentParser,
    *,
    model_flags: tuple[str, ...] = ("--model",),
    model_default: str | None = DEFAULT_MODEL,
    model_help: str = f"hub id or local directory (default {DEFAULT_MODEL})",
) -> None:
    group = parser.add_argument_group("reranker")
    group.add_argument(*model_flags, dest="model", default=model_default, help=model_help)
    group.add_argument("--granularity", choices=GRANULARITIES, default=DEFAULT_GRANULARITY)
    group.add_argument(
        "--fusion-weight",
        type=_fusion_weight,
        default=DEFAULT_FUSION_WEIGHT,
        help="order by z(retriever score) + W x entailment; 'none' for entailment alone",
    )
    group.add_argument(
        "--template", default=None, help="hypothesis template with one {}, e.g. 'This text is about {}.'"
    )
    group.add_argument("--labels", nargs="+", default=None, help="label names in logit order, for LABEL_0.. configs")
    group.add_argument("--batch-size", type=int, default=32)
    group.add_argument("--max-length", type=int, default=512)
    group.add_argument("--backend", default="auto")
    group.add_argument("--precision", default="fp32")
    group.add_argument("--threads", type=int, default=None)
    group.add_argument("--min-entailment", type=float, default=None)
    group.add_argument("--max-contradiction", type=float, default=None)


def build_reranker(args: argparse.Namespace, *, show_progress: bool = True):
    """An NLIReranker for an NLI model, or a RelevanceReranker when the model has a single logit."""
    from rerank.backends import load_model
    from rerank.nli_reranker import NLIReranker
    from rerank.relevance_reranker import RelevanceReranker

    loaded = load_model(args.model, backend=args.backend, precision=args.precision, threads=args.threads)
    options = {"batch_size": args.batch_size, "max_length": args.max_length, "show_progress": show_progress}
    if loaded.num_logits == 1:
        return RelevanceReranker(loaded, **options)
    return NLIReranker(
        loaded, granularity=args.granularity, fusion_weight=args.fusion_weight,
        hypothesis_template=args.template, labels=args.labels, **options,
    )  # fmt: skip


def thresholds(args: argparse.Namespace, reranker: Any) -> dict[str, float]:
    """Threshold keyword arguments for reranker.rerank, refusing NLI thresholds on a relevance model."""
    given = {
        k: v
        for k, v in (("min_entailment", args.min_entailment), ("max_contradiction", args.max_contradiction))
        if v is not None
    }
    if given and not hasattr(reranker, "label_map"):
        raise ValueError(f"{sorted(given)} need an NLI model; {args.model!r} is a relevance cross-encoder")
    return given


def score_fields(result: Any) -> dict[str, Any]:
    """An NLI result's probabilities (and evidence sentence), or a relevance result's score, as JSON fields."""
    if not hasattr(result, "scores"):
        return {"relevance": result.score}
    fields = result.scores.model_dump()
    if result.evidence is not None:
        fields["evidence"] = result.evidence.sentence
    return fields


def print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
