"""The export cache: exports and int8 copies made on demand by rerank.loading, kept for later loads.

Entries live in rerank.backends.files.export_cache_dir() (``$NLI_RERANK_CACHE``, default ``~/.cache/nli-rerank``),
named after the source and keyed by its fingerprint (the content of a weights directory or graph, the commit of a
hub snapshot: rerank.backends.fingerprint), format and precision. Retraining a model in place therefore makes a new
entry instead of serving the stale one. Delete the directory to force fresh exports.

An export the loader made on its own (``backend="auto"``) and that failed its check is remembered beside the entries
(``<entry>.refused.json``, with the error and the package versions), so later loads go to torch at once instead of
exporting again; new package versions, or deleting the file, let it try again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from rerank.atomic import write_text_atomic
from rerank.backends import files
from rerank.backends.fingerprint import graph_fingerprint, hub_fingerprint, weights_fingerprint
from rerank.export.manifest import created_now, package_versions, write_manifest
from rerank.export.quantize import ONNX_DYNAMIC, quantize_onnx_dynamic

__all__ = ["cached_export", "cached_quantized_onnx", "forget_refusal", "refusal", "remember_refusal",
           "source_fingerprint"]  # fmt: skip

logger = logging.getLogger(__name__)


def source_fingerprint(model: str) -> str | None:
    """The fingerprint of PyTorch weights to export: a directory's content, or a hub id's local snapshot commit
    (None for a hub id not downloaded yet)."""
    expanded = os.path.expanduser(model)
    return weights_fingerprint(expanded) if os.path.isdir(expanded) else hub_fingerprint(model)


def _entry(source: str, key: str, format: str, precision: str) -> Path:
    """The cache entry for ``key``: an existing complete one (whatever source name it was made under, since copies
    of one model share a key), else a new path named after ``source``."""
    suffix = f"{hashlib.sha256(key.encode()).hexdigest()[:16]}-{format}-{precision}"
    cache = files.export_cache_dir()
    for existing in sorted(cache.glob(f"*-{suffix}")) if cache.is_dir() else ():
        if (existing / "manifest.json").is_file():
            return existing
    return cache / f"{Path(os.path.expanduser(source)).name or 'model'}-{suffix}"


def _publish(built: Path, target: Path) -> None:
    """Rename ``built`` to ``target`` unless another process finished the same entry first."""
    if target.exists() and not (target / "manifest.json").is_file():  # an interrupted entry of an older version
        shutil.rmtree(target, ignore_errors=True)
    try:
        built.rename(target)
    except OSError:
        logger.debug("%s was written by another process meanwhile", target)


def cached_export(model: str, *, format: str, quantize: str | None = None, show_progress: bool = False) -> Path:
    """The export of ``model`` (hub id or directory of PyTorch weights) in the export cache, made on first use.

    Args:
        model: Hub id or directory of PyTorch/SafeTensors weights.
        format: "onnx" or "openvino".
        quantize: None or "int8".
        show_progress: Show a bar over the export's steps (it takes from seconds to minutes).

    Raises:
        ExportError: The exporter failed, or the export does not reproduce the source (nothing is kept).

    Example:
        >>> cached_export("cross-encoder/nli-deberta-v3-small", format="onnx")  # doctest: +SKIP
        PosixPath('/home/me/.cache/nli-rerank/nli-deberta-v3-small-5d0f3c1a9b2e4f67-onnx-fp32')
    """
    from rerank.export import export_model

    precision = quantize or "fp32"
    key = source_fingerprint(model)
    if key is not None:
        target = _entry(model, key, format, precision)
        if (target / "manifest.json").is_file():
            return target
    from tqdm.auto import tqdm

    from rerank.export import EXPORT_STEPS

    cache = files.export_cache_dir()
    logger.warning("exporting %s into %s once (%s, %s); later loads reuse it", model, cache, format, precision)
    cache.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=EXPORT_STEPS, desc=f"exporting {format} {precision} once", unit="step", disable=not show_progress)

    def step(name: str) -> None:
        logger.info("export of %s: %s", model, name)
        if bar.n or name != "loading the source model":
            bar.update(1)
        bar.set_postfix_str(name)

    with bar, tempfile.TemporaryDirectory(dir=cache, prefix=".export-") as scratch:
        built = export_model(model, Path(scratch) / "export", format=format, quantize=quantize, progress=step)
        bar.update(1)
        if key is None:  # a hub id downloaded by the export: its snapshot is known now
            key = files.read_manifest(built)["source_fingerprint"]
        target = _entry(model, key, format, precision)
        if not (target / "manifest.json").is_file():
            _publish(built, target)
    return target


def cached_quantized_onnx(graph: Path) -> Path:
    """A dynamically quantized int8 copy of an fp32 ONNX graph, beside its tokenizer in the export cache."""
    source_dir = files.model_directory(graph)
    target = _entry(str(source_dir), graph_fingerprint(graph), "onnx", "int8")
    if (target / files.ONNX_FILE).is_file():
        return target / files.ONNX_FILE
    logger.warning("quantizing %s to int8 once into %s; later loads reuse it", graph, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".quantize-") as scratch:
        staging = Path(scratch) / "int8"
        shutil.copytree(
            source_dir,
            staging,
            ignore=shutil.ignore_patterns(
                "*.onnx", "*.onnx.data", "*.onnx_data", "*.xml", "*.bin", "*.safetensors", "*.h5", "*.msgpack", "onnx"
            ),
        )
        quantize_onnx_dynamic(graph, staging / files.ONNX_FILE)
        manifest = files.read_manifest(source_dir)
        manifest.update(format="onnx", precision="int8", quantization={**ONNX_DYNAMIC, "from": str(graph)})
        write_manifest(staging, manifest)
        if not (target / files.ONNX_FILE).is_file():
            _publish(staging, target)
    return target / files.ONNX_FILE


def _refusal_path(model: str, format: str, precision: str) -> Path | None:
    key = source_fingerprint(model)
    if key is None:
        return None
    entry = _entry(model, key, format, precision)
    return entry.with_name(entry.name + ".refused.json")


def refusal(model: str, format: str, precision: str = "fp32") -> dict[str, Any] | None:
    """The remembered failure of the automatic export of ``model``, or None (none, or made with other versions)."""
    path = _refusal_path(model, format, precision)
    if path is None or not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("versions") != package_versions():
        return None
    return record


def remember_refusal(model: str, format: str, precision: str, error: Exception) -> None:
    """Remember that the automatic export of ``model`` failed (best effort: a read-only cache just retries)."""
    path = _refusal_path(model, format, precision)
    if path is None:
        return
    record = {"source": model, "format": format, "precision": precision, "error": str(error)[:2000],
              "versions": package_versions(), "created": created_now()}  # fmt: skip
    try:
        write_text_atomic(path, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    except OSError as write_error:
        logger.debug("could not remember the refused export in %s: %s", path, write_error)


def forget_refusal(model: str, format: str, precision: str = "fp32") -> None:
    """Forget a remembered failure, so the next automatic load tries the export again."""
    path = _refusal_path(model, format, precision)
    if path is not None:
        path.unlink(missing_ok=True)
