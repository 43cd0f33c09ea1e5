"""Whether a reduced precision keeps a model's answers here: bf16 against fp32 on the shipped check pairs.

``precision="auto"`` runs bf16 only where the CPU has bf16 units (AMX, AVX-512 BF16) *and* bf16 keeps the model's
answers on the shipped check pairs (rerank/data/check_pairs.tsv, rerank.export.check_pairs): argmax agreement with
fp32 of at least ``AGREEMENT_BAR`` and no probability moving by more than ``MAX_DELTA_P``. Both runs go through the
project's own batching (what the rerankers run), so the check sees the same padding and lengths.

The verdict is kept, so the check runs once per model and machine kind (``verdict_key``: the backend and its
version, and rerank.cpu.machine_kind()): in the manifest of an export the loader made in the export cache
(``"precision_checks"``), otherwise in ``precision-checks/<digest>.json`` in the export cache, keyed by the model's
fingerprint. Delete either to check again.

Example:
    >>> verdict = run_check(fp32.runner, bf16.runner, fp32.tokenizer, backend="openvino")  # doctest: +SKIP
    >>> verdict["passed"], verdict["argmax_agreement"], verdict["max_abs_dp"]  # doctest: +SKIP
    (True, 0.9967, 0.0081)
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from rerank.atomic import write_text_atomic
from rerank.backends import files
from rerank.batching import encode_pairs, run_batches
from rerank.cpu import cpu_info, machine_kind
from rerank.export.check_pairs import check_pairs
from rerank.export.manifest import created_now, is_export_manifest, package_versions

__all__ = ["AGREEMENT_BAR", "MAX_DELTA_P", "compare", "describe", "read_verdict", "run_check", "verdict_key",
           "write_verdict"]  # fmt: skip

logger = logging.getLogger(__name__)

AGREEMENT_BAR = 0.99  # least argmax agreement with fp32 on the check pairs
MAX_DELTA_P = 0.02  # largest |probability difference| to fp32 on any check pair and label
CHECK_MAX_LENGTH = 512
STORE = "precision-checks"
_RUNTIMES = {"openvino": "openvino", "torch": "torch", "onnx": "onnxruntime"}


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Softmax of each row; a single logit (a relevance model) becomes [1 - sigmoid, sigmoid]."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.shape[1] == 1:
        positive = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        return np.stack([1.0 - positive, positive], axis=1)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def compare(reference: np.ndarray, candidate: np.ndarray) -> dict[str, Any]:
    """Argmax agreement and the largest |probability difference| of ``candidate`` logits against ``reference``."""
    p, q = probabilities(reference), probabilities(candidate)
    return {
        "pairs": len(p),
        "argmax_agreement": round(float((p.argmax(axis=1) == q.argmax(axis=1)).mean()), 6),
        "max_abs_dp": round(float(np.abs(p - q).max()) if len(p) else 0.0, 6),
    }


def _logits(runner, tokenizer, pairs, max_length: int, show_progress: bool, description: str) -> np.ndarray:
    encoded = encode_pairs(tokenizer, [p for p, _ in pairs], [h for _, h in pairs], max_length)
    return run_batches(encoded, runner, input_names=runner.input_names, pad_token_id=tokenizer.pad_token_id or 0,
                       batch_size=16, show_progress=show_progress, description=description)  # fmt: skip


def run_check(
    reference,
    candidate,
    tokenizer,
    *,
    backend: str,
    pairs: list[tuple[str, str]] | None = None,
    max_length: int | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Score the check pairs with the fp32 ``reference`` runner and the ``candidate`` runner (bf16) and judge.

    Returns:
        The verdict: pairs, argmax_agreement, max_abs_dp, the bars, passed, the precision to run ("bf16" when
        passed, else "fp32"), the candidate precision, backend, runtime version, machine kind, CPU, date, seconds.
    """
    pairs = list(pairs) if pairs is not None else check_pairs()
    length = min(CHECK_MAX_LENGTH, max_length or CHECK_MAX_LENGTH)
    start = time.perf_counter()
    want = _logits(reference, tokenizer, pairs, length, show_progress, f"precision check: fp32 ({len(pairs)} pairs)")
    got = _logits(candidate, tokenizer, pairs, length, show_progress,
                  f"precision check: {candidate.precision} ({len(pairs)} pairs)")  # fmt: skip
    found = compare(want, got)
    passed = found["argmax_agreement"] >= AGREEMENT_BAR and found["max_abs_dp"] <= MAX_DELTA_P
    runtime = _RUNTIMES.get(backend, backend)
    return {
        **found,
        "bars": {"argmax_agreement": AGREEMENT_BAR, "max_abs_dp": MAX_DELTA_P},
        "passed": passed,
        "candidate": candidate.precision,
        "precision": candidate.precision if passed else reference.precision,
        "backend": backend,
        "runtime": f"{runtime} {package_versions(runtime).get(runtime, '?')}",
        "machine": machine_kind(),
        "cpu": cpu_info().model,
        "checked": created_now(),
        "seconds": round(time.perf_counter() - start, 1),
    }


def verdict_key(backend: str) -> str:
    """What a verdict holds for: the backend with its runtime's version, on this kind of machine."""
    runtime = _RUNTIMES.get(backend, backend)
    return f"{backend} ({runtime} {package_versions(runtime).get(runtime, '?')}) on {machine_kind()}"


def describe(verdict: dict[str, Any]) -> str:
    """ "check on 300 pairs: argmax agreement 99.67%, max |dp| 0.0081" (with "failed" when it did)."""
    text = (f"check on {verdict['pairs']} pairs: argmax agreement {verdict['argmax_agreement']:.2%}, max |dp| "
            f"{verdict['max_abs_dp']:.4f}")  # fmt: skip
    if not verdict["passed"]:
        text += f" (bars: >= {AGREEMENT_BAR:.0%} and <= {MAX_DELTA_P}; {verdict['candidate']} refused)"
    return text


def _export_entry(directory: Path | None) -> Path | None:
    """``directory`` when it is an export the loader made in the export cache (its manifest may be updated)."""
    if directory is None:
        return None
    cache = files.export_cache_dir().resolve()
    resolved = directory.resolve()
    if resolved.parent != cache or not is_export_manifest(files.read_manifest(resolved)):
        return None
    return resolved


def _store_path(fingerprint: str) -> Path:
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:24]
    return files.export_cache_dir() / STORE / f"{digest}.json"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        logger.warning("ignoring the unreadable precision verdicts in %s (%s); the check will run again", path, error)
        return {}
    return data if isinstance(data, dict) else {}


def _valid(verdict: Any) -> bool:
    return (
        isinstance(verdict, dict)
        and isinstance(verdict.get("passed"), bool)
        and verdict.get("precision") in {"fp32", "bf16"}
        and all(isinstance(verdict.get(name), int | float) for name in ("pairs", "argmax_agreement", "max_abs_dp"))
    )


def read_verdict(fingerprint: str, key: str, directory: Path | None = None) -> dict[str, Any] | None:
    """The kept verdict for the model ``fingerprint`` under ``key``, or None: from the manifest of the export
    entry ``directory`` when the loader made it, else from the store in the export cache."""
    entry = _export_entry(directory)
    if entry is not None:
        found = (files.read_manifest(entry).get("precision_checks") or {}).get(key)
        if _valid(found):
            return found
    stored = _read_json(_store_path(fingerprint))
    found = stored.get("verdicts", {}).get(key) if stored.get("fingerprint") == fingerprint else None
    return found if _valid(found) else None


def write_verdict(fingerprint: str, key: str, verdict: dict[str, Any], directory: Path | None = None) -> Path | None:
    """Keep ``verdict``: in the manifest of the export entry ``directory`` when the loader made it, else in the store.

    Returns:
        The file written, or None when it could not be written (a read-only cache: the check then runs again
        at the next load, which costs time, never answers).
    """
    entry = _export_entry(directory)
    try:
        if entry is not None:
            manifest = files.read_manifest(entry)
            manifest["precision_checks"] = {**(manifest.get("precision_checks") or {}), key: verdict}
            text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
            return write_text_atomic(entry / "manifest.json", text)
        path = _store_path(fingerprint)
        stored = _read_json(path)
        verdicts = stored.get("verdicts", {}) if stored.get("fingerprint") == fingerprint else {}
        content = {"fingerprint": fingerprint, "verdicts": {**verdicts, key: verdict}}
        return write_text_atomic(path, json.dumps(content, indent=2, ensure_ascii=False) + "\n")
    except OSError as error:
        logger.warning("could not keep the precision verdict (%s); the check will run again next time", error)
        return None
