"""Options and helpers shared by subcommands.

The runtime flags (--backend, --precision, --device, --threads, --batch-size, --max-length) are built from the
fields of ``rerank.ModelOptions``, so their defaults and rules are written once, in that model.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from rerank.contract import Reranker, check_thresholds
from rerank.fusion import ORDERS
from rerank.nli_reranker import (
    AGGREGATES,
    DEFAULT_DIRECTION,
    DEFAULT_FUSION_WEIGHT,
    DEFAULT_MAX_SEGMENTS,
    DEFAULT_MODEL,
    DIRECTIONS,
    check_max_segments,
    check_template,
)
from rerank.options import ModelOptions, resolve_options
from rerank.records import RankedResult, RerankResult
from rerank.segmenter import DEFAULT_GRANULARITY, DEFAULT_TITLE, DEFAULT_WINDOW_TOKENS, GRANULARITIES, TITLE_MODES
from rerank.sentences import check_language
from rerank.validation import check_threshold

__all__ = [
    "add_model_options",
    "add_reranker_options",
    "build_reranker",
    "check_reranker_flags",
    "print_json",
    "score_fields",
    "thresholds",
]

# ModelOptions fields offered as flags; show_progress follows each command's own --no-progress, cache is Python-only.
OPTION_FLAGS = ("backend", "precision", "device", "threads", "batch_size", "max_length")
THRESHOLD_FLAGS = ("min_entailment", "max_contradiction", "min_score")


def _fusion_weight(text: str) -> float | None:
    if text.lower() == "none":
        return None
    try:
        weight = float(text)
    except ValueError:
        weight = math.nan
    if not math.isfinite(weight):
        raise argparse.ArgumentTypeError(f"expected a finite number or 'none', got {text!r}")
    return weight


def _max_segments(text: str) -> int | None:
    if text.lower() in ("all", "none"):
        return None
    try:
        return check_max_segments(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive int or 'all', got {text!r}") from None


def _add_option_flags(group: argparse._ArgumentGroup) -> None:
    for name in OPTION_FLAGS:
        field = ModelOptions.model_fields[name]
        kind = int if name in {"threads", "batch_size", "max_length"} else str
        description = field.description or ""
        shown = "" if "default" in description else f" (default {field.default})"
        group.add_argument("--" + name.replace("_", "-"), type=kind, default=None, help=description + shown)
    group.add_argument(
        "--no-auto-export",
        action="store_true",
        help="never export PyTorch weights for OpenVINO/onnxruntime on first use (backend auto then runs torch "
        "unless the model ships a converted graph); NLI_RERANK_AUTO_EXPORT=0 does the same",
    )


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
        "--title", choices=TITLE_MODES, default=DEFAULT_TITLE, help="how titles are scored at sentence granularity"
    )
    group.add_argument(
        "--window-tokens",
        type=int,
        default=DEFAULT_WINDOW_TOKENS,
        help=f"token budget of a window at --granularity window (default {DEFAULT_WINDOW_TOKENS})",
    )
    group.add_argument(
        "--aggregate",
        choices=tuple(AGGREGATES),
        default="max",
        help="document entailment from its segments (default max)",
    )
    group.add_argument(
        "--order",
        choices=ORDERS,
        default="entailment",
        help="order by entailment or by decisiveness = entailment + contradiction",
    )
    group.add_argument("--language", default=None, help="language code for sentence splitting (default English)")
    group.add_argument(
        "--direction",
        choices=DIRECTIONS,
        default=DEFAULT_DIRECTION,
        help="which text is the NLI premise: the passage (default), the query, or both averaged (docs/direction.md)",
    )
    group.add_argument(
        "--max-segments",
        type=_max_segments,
        default=DEFAULT_MAX_SEGMENTS,
        help="at sentence/window granularity, score only the M segments per document with the most query terms; "
        f"'all' scores every one (default {DEFAULT_MAX_SEGMENTS or 'all'}; --max-contradiction scores every one)",
    )
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
    _add_option_flags(group)
    group.add_argument(
        "--calibration",
        default=None,
        help="calibration file from `rerank calibrate` (a temperature for NLI models, Platt scaling for relevance "
        "models): calibrated probabilities, same order",
    )
    group.add_argument("--min-entailment", type=float, default=None, help="NLI models: keep entailment >= this")
    group.add_argument("--max-contradiction", type=float, default=None, help="3-label NLI: keep contradiction <= this")
    group.add_argument("--min-score", type=float, default=None, help="relevance models: keep score >= this")


def add_model_options(parser: argparse.ArgumentParser, *, model_default: str = DEFAULT_MODEL) -> None:
    """--model, --labels and the ModelOptions flags alone, for commands that score pairs rather than rerank."""
    group = parser.add_argument_group("model")
    group.add_argument("--model", default=model_default, help=f"hub id or local directory (default {model_default})")
    group.add_argument("--labels", nargs="+", default=None, help="label names in logit order, for LABEL_0.. configs")
    _add_option_flags(group)


def model_options(args: argparse.Namespace, *, show_progress: bool = True) -> ModelOptions:
    """The ModelOptions the flags ask for (unset flags keep the defaults); raises ValueError naming a bad one."""
    given = {name: getattr(args, name) for name in OPTION_FLAGS if getattr(args, name, None) is not None}
    if getattr(args, "no_auto_export", False):
        given["auto_export"] = False
    return resolve_options(None, {**given, "show_progress": show_progress})


def given_thresholds(args: argparse.Namespace) -> dict[str, float]:
    """The threshold flags that are set, each checked as a probability (before any model is loaded)."""
    values = {name: check_threshold(name, getattr(args, name, None)) for name in THRESHOLD_FLAGS}
    return {name: value for name, value in values.items() if value is not None}


def _check_thresholds_against_config(args: argparse.Namespace) -> None:
    """Refuse a threshold the model's kind does not take, from its config.json when --model is a local directory,
    so the mistake is named before a load that may export or check the model first (the reranker checks again)."""
    from pathlib import Path

    from rerank.backends.files import read_config
    from rerank.nli_reranker import THRESHOLDS_2_LABEL, THRESHOLDS_3_LABEL
    from rerank.relevance_reranker import THRESHOLDS as RELEVANCE_THRESHOLDS

    given = given_thresholds(args)
    directory = Path(str(getattr(args, "model", "") or ""))
    if not given or not directory.is_dir():
        return
    try:
        config = read_config(directory)
    except Exception:  # a damaged config is reported by the load, with its own message
        return
    labels = getattr(args, "labels", None) or config.get("id2label") or {}
    count = len(labels) or int(config.get("num_labels") or 0)
    if count:
        accepted = RELEVANCE_THRESHOLDS if count == 1 else THRESHOLDS_2_LABEL if count == 2 else THRESHOLDS_3_LABEL
        check_thresholds(accepted, given, f"model {args.model!r}")


def check_reranker_flags(args: argparse.Namespace, *, show_progress: bool = True) -> ModelOptions:
    """Check every reranker flag that can be checked without the model; returns the ModelOptions they ask for.

    Commands call it before reading their inputs, so a typo fails at once rather than after a corpus is loaded.
    """
    from rerank.calibration import load_calibration

    options = model_options(args, show_progress=show_progress)
    _check_thresholds_against_config(args)
    check_template(args.template)
    check_language(getattr(args, "language", None))
    if getattr(args, "window_tokens", 1) < 1:
        raise ValueError(f"--window-tokens must be a positive int, got {args.window_tokens}")
    if getattr(args, "calibration", None) is not None:
        load_calibration(args.calibration)  # a missing or damaged file fails here, before the model loads
    return options


def build_reranker(args: argparse.Namespace, *, show_progress: bool = True) -> Reranker:
    """An NLIReranker for an NLI model, or a RelevanceReranker when the model has a single logit.

    Every flag is checked before the model loads (seconds), so a typo fails at once.
    """
    from rerank.loading import load_model
    from rerank.nli_reranker import NLIReranker
    from rerank.relevance_reranker import RelevanceReranker

    options = check_reranker_flags(args, show_progress=show_progress)
    loaded = load_model(
        args.model, backend=options.backend, precision=options.precision, device=options.device,
        threads=options.threads, auto_export=options.auto_export, show_progress=options.show_progress,
    )  # fmt: skip
    calibration = getattr(args, "calibration", None)
    if loaded.num_logits == 1:
        return RelevanceReranker(loaded, calibration=calibration, options=options)
    return NLIReranker(
        loaded, granularity=args.granularity, title=args.title, fusion_weight=args.fusion_weight,
        hypothesis_template=args.template, labels=args.labels, calibration=calibration, options=options,
        window_tokens=args.window_tokens, aggregate=args.aggregate, order=args.order, language=args.language,
        direction=getattr(args, "direction", DEFAULT_DIRECTION),
        max_segments=getattr(args, "max_segments", DEFAULT_MAX_SEGMENTS),
    )  # fmt: skip


def thresholds(args: argparse.Namespace, reranker: Reranker) -> dict[str, float]:
    """Threshold keyword arguments for reranker.rerank, refusing those the reranker does not accept."""
    return check_thresholds(reranker.thresholds, given_thresholds(args), f"model {args.model!r}")


def score_fields(result: RankedResult) -> dict[str, Any]:
    """An NLI result's probabilities (and evidence sentence), or a relevance result's score, as JSON fields."""
    if not isinstance(result, RerankResult):
        return {"relevance": result.score}
    fields = result.scores.model_dump()
    if result.evidence is not None:
        fields["evidence"] = result.evidence.sentence
        fields["evidence_span"] = list(result.evidence.span) if result.evidence.span else None
    return fields


def print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
