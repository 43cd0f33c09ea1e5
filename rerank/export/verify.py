"""Check an export against its source: reference logits through the rerankers' own batching, and the parity check.

Every export is loaded back the way the rerankers load it (by the backend, from the directory written) and compared
with the source model on pairs of several lengths and languages (``verification_pairs``: five hand-written pairs and
the first ``SHIPPED_PAIRS`` of the shipped check pairs). An fp32 export more than ``FP32_TOLERANCE`` off in any logit
is refused.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rerank.backends import BACKENDS
from rerank.batching import encode_pairs, run_batches
from rerank.export.errors import ExportError
from rerank.export.graph import TRACE_PAIRS

__all__ = ["CHECK_PAIRS", "FP32_TOLERANCE", "check_export", "reference_logits", "require_parity", "verification_pairs"]

FP32_TOLERANCE = 1e-3  # largest |logit difference| to the source accepted for an fp32 export
SHIPPED_PAIRS = 45  # shipped check pairs (rerank/data/check_pairs.tsv) added to CHECK_PAIRS
# Pairs of several lengths (batched differently from the traced pair), used to check an export against its source.
CHECK_PAIRS = (
    *TRACE_PAIRS,
    ("The cat sleeps.", "An animal is awake."),
    ("Water boils at 100 degrees Celsius at sea level; at higher altitude the boiling point is lower because the "
     "air pressure is lower, which is why cooking pasta in the mountains takes longer.", "Altitude changes boiling."),
    ("Ein Hund läuft über die Wiese.", "A dog is running."),
)  # fmt: skip


def verification_pairs() -> list[tuple[str, str]]:
    """The pairs an export is compared with its source on: CHECK_PAIRS, then SHIPPED_PAIRS shipped check pairs."""
    from rerank.export.check_pairs import check_pairs

    return [*CHECK_PAIRS, *check_pairs(limit=SHIPPED_PAIRS)]


def reference_logits(runner, tokenizer, pairs: Sequence[tuple[str, str]], input_names: Sequence[str]) -> np.ndarray:
    """Logits for ``pairs`` through the project's own length-sorted batching (what the rerankers run)."""
    encoded = encode_pairs(tokenizer, [p for p, _ in pairs], [h for _, h in pairs], 256)
    return run_batches(encoded, runner, input_names=input_names, pad_token_id=tokenizer.pad_token_id or 0,
                       batch_size=8, show_progress=False)  # fmt: skip


def check_export(
    directory: Path, format: str, reference: np.ndarray, pairs: Sequence[tuple[str, str]] = CHECK_PAIRS
) -> dict[str, Any]:
    """Load the graph in ``directory`` with the ``format`` backend and compare its logits with ``reference``
    (the source's logits for ``pairs``).

    Returns:
        The manifest's "verification": pairs checked, max |logit difference|, argmax agreement.
    """
    backend = importlib.import_module(BACKENDS[format][0])
    loaded = backend.load(str(directory), precision="fp32")
    got = reference_logits(loaded.runner, loaded.tokenizer, pairs, loaded.runner.input_names)
    return {
        "pairs": len(pairs),
        "max_abs_logit_diff": float(np.abs(got - reference).max()),
        "argmax_agreement": float((got.argmax(axis=1) == reference.argmax(axis=1)).mean()),
    }


def require_parity(check: dict[str, Any], format: str, precision: str) -> None:
    """Raise ExportError for an fp32 export whose logits differ from the source by more than FP32_TOLERANCE."""
    if precision == "fp32" and check["max_abs_logit_diff"] > FP32_TOLERANCE:
        raise ExportError(
            f"the exported {format} graph differs from its source by {check['max_abs_logit_diff']:.2e} in the logits "
            f"(tolerance {FP32_TOLERANCE}); nothing was written. Try another --opset"
        )
