"""``precision="auto"`` for a bi-encoder graph: bf16 only where the CPU has bf16 units and bf16 keeps the embeddings.

The check embeds ``rerank.export.sentence.check_texts`` (the shipped check pairs' texts, a text longer than
max_seq_length, an empty one) in fp32 and in bf16 and passes when no text's embedding moves by more than
``MAX_COSINE_DEVIATION`` in 1 - cos. The verdict is kept with the cross-encoder's (``rerank.export.precision``: in the
export's manifest, keyed by the backend version and the machine kind), so it runs once per model and kind of CPU.
Besides the deviation it records how many texts keep their nearest neighbour among the others.
"""

from __future__ import annotations

import importlib
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from rerank import cpu
from rerank.backends import BACKENDS, LoadedModel, files

__all__ = ["MAX_COSINE_DEVIATION", "bf16_ready", "check_bf16", "load_auto_precision"]

logger = logging.getLogger(__name__)

MAX_COSINE_DEVIATION = 1e-4  # largest 1 - cos to fp32 on any check text for auto to run bf16


def bf16_ready(backend: str) -> str | None:
    """The CPU's bf16 units when ``backend`` runs bf16 fast here (OpenVINO on AMX or AVX-512 BF16), else None."""
    units = cpu.bf16_units()
    if backend != "openvino" or units is None:
        return None
    from rerank.backends.openvino_backend import cpu_supports_bf16

    return units if cpu_supports_bf16() else None


def _nearest(vectors: np.ndarray) -> np.ndarray:
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    return similarity.argmax(axis=1)


def check_bf16(fp32: LoadedModel, bf16: LoadedModel, settings: dict[str, Any], show_progress: bool) -> dict[str, Any]:
    """Embed the check texts with both and judge bf16 (the verdict, in rerank.export.precision's record format:
    ``max_abs_dp`` holds the largest 1 - cos, ``argmax_agreement`` the share of kept nearest neighbours)."""
    from rerank.export.manifest import created_now, package_versions
    from rerank.export.sentence import check_texts, cosine_deviation, embed

    texts = check_texts()
    start = time.perf_counter()
    length, normalize = settings["max_seq_length"], settings["normalize"]
    want = embed(fp32, texts, max_length=length, normalize=normalize, show_progress=show_progress)
    got = embed(bf16, texts, max_length=length, normalize=normalize, show_progress=show_progress)
    deviation = float(cosine_deviation(want, got).max())
    kept = float((_nearest(want) == _nearest(got)).mean())
    passed = deviation <= MAX_COSINE_DEVIATION
    return {
        "pairs": len(texts), "argmax_agreement": round(kept, 6), "max_abs_dp": deviation,
        "measure": "max_abs_dp: largest 1 - cos to fp32; argmax_agreement: nearest neighbours kept",
        "bars": {"max_cosine_deviation": MAX_COSINE_DEVIATION}, "passed": passed, "candidate": "bf16",
        "precision": "bf16" if passed else "fp32", "backend": "openvino",
        "runtime": f"openvino {package_versions('openvino').get('openvino', '?')}", "machine": cpu.machine_kind(),
        "cpu": cpu.cpu_info().model, "checked": created_now(), "seconds": round(time.perf_counter() - start, 1),
    }  # fmt: skip


def describe(verdict: dict[str, Any]) -> str:
    """ "check on 601 texts: max 1 - cos 3.1e-05, nearest neighbour kept 100.00%" ("bf16 refused" when it failed)."""
    text = (f"check on {verdict['pairs']} texts: max 1 - cos {verdict['max_abs_dp']:.1e}, nearest neighbour kept "
            f"{verdict['argmax_agreement']:.2%}")  # fmt: skip
    return text if verdict["passed"] else f"{text}; bf16 refused (bar {MAX_COSINE_DEVIATION})"


def load_auto_precision(
    backend: str, directory: str, threads: int | None, show_progress: bool
) -> tuple[LoadedModel, str]:
    """Load the bi-encoder export ``directory`` with ``backend`` in bf16 when ready and checked, else fp32; with the
    reason, e.g. "auto: AMX bf16 units; check on 601 texts: max 1 - cos 3.1e-05, nearest neighbour kept 100.00%"."""
    from rerank.backends.fingerprint import graph_fingerprint
    from rerank.export import precision as store
    from rerank.export.sentence import SENTENCE_KIND

    module = importlib.import_module(BACKENDS[backend][0])
    units = bf16_ready(backend)
    if units is None:
        why = "onnxruntime has no bf16 CPU kernels" if backend == "onnx" else "no bf16 units on this CPU"
        return module.load(directory, precision="fp32", threads=threads), f"auto: {why}"
    graph = files.find_openvino(directory) or files.find_onnx(directory)
    if graph is None:
        raise files.no_graph(directory, backend, "bi-encoder graph", backend)
    fingerprint, where = graph_fingerprint(graph), Path(directory)
    key = f"{SENTENCE_KIND} {store.verdict_key(backend)}"
    verdict = store.read_verdict(fingerprint, key, where)
    if verdict is not None:
        loaded = module.load(directory, precision=verdict["precision"], threads=threads)
        return loaded, f"auto: {units} bf16 units; {describe(verdict)}, kept from {verdict.get('checked', '?')}"
    fp32 = module.load(directory, precision="fp32", threads=threads)
    bf16 = module.load(directory, precision="bf16", threads=threads)
    settings = fp32.extra["manifest"]["sentence"]
    logger.info("checking bf16 against fp32 for the bi-encoder %s (once per model and machine kind)", directory)
    verdict = check_bf16(fp32, bf16, settings, show_progress)
    store.write_verdict(fingerprint, key, verdict, where)
    if not verdict["passed"]:
        logger.warning("%s: bf16 moved embeddings beyond the bar (%s); running fp32", directory, describe(verdict))
    return (bf16 if verdict["passed"] else fp32), f"auto: {units} bf16 units; {describe(verdict)}"
