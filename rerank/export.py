"""Export a PyTorch cross-encoder to ONNX or OpenVINO, optionally int8, as a directory the rerankers load directly.

The graph comes from ``torch.onnx.export(dynamo=True)`` with one shared batch and one shared sequence Dim across all
inputs: the legacy TorchScript exporter was seen to move DeBERTa-v2/v3 logits by ~3e-3, the dynamo exporter by ~1e-8.
Every export is checked against PyTorch on sample pairs before it is written. An exported graph may drop inputs it
does not use (DeBERTa-v3 ignores token_type_ids); the backends feed only the inputs a graph lists.

int8: for ONNX, dynamic quantization (onnxruntime.quantization: int8 weights, activations quantized per batch; no
data needed). For OpenVINO, NNCF static post-training quantization calibrated on (premise, hypothesis) pairs like
the ones to be scored (``calibration=``).

Example:
    >>> from rerank.export import export_model
    >>> export_model("path/to/nli-model", "nli-onnx-int8", format="onnx", quantize="int8")  # doctest: +SKIP
    >>> NLIReranker("nli-onnx-int8")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from rerank.backends import files
from rerank.backends.base import directory_fingerprint
from rerank.batching import encode_pairs, run_batches
from rerank.errors import MissingDependencyError

__all__ = ["FORMATS", "QUANTIZATIONS", "ExportError", "cached_export", "export_model", "read_pairs_tsv"]

logger = logging.getLogger(__name__)

FORMATS = ("onnx", "openvino")
QUANTIZATIONS = (None, "int8")
OPSET = 18
VERSIONED_PACKAGES = ("nli-rerank", "torch", "transformers", "onnx", "onnxscript", "onnxruntime", "openvino", "nncf")
FP32_TOLERANCE = 1e-3  # largest |logit difference| to PyTorch accepted for an fp32 export
# Pairs of several lengths, shapes different from the traced ones, used to check an export against PyTorch.
CHECK_PAIRS = (
    ("A man is playing a guitar on stage in front of a large crowd at night.", "A person performs music."),
    ("Aspirin reduced the rate of myocardial infarction by 40% in the treated group over five years.",
     "Aspirin prevents heart attacks."),
    ("The cat sleeps.", "An animal is awake."),
    ("Water boils at 100 degrees Celsius at sea level; at higher altitude the boiling point is lower because the "
     "air pressure is lower, which is why cooking pasta in the mountains takes longer.", "Altitude changes boiling."),
    ("Ein Hund läuft über die Wiese.", "A dog is running."),
)  # fmt: skip


class ExportError(RuntimeError):
    """An export failed or produced a graph that does not reproduce the PyTorch model."""


def _wrapper(hf_model, input_names: Sequence[str]):
    import torch

    class LogitsOnly(torch.nn.Module):
        """Keyword inputs in, logits out: the signature the exporter traces."""

        def __init__(self):
            super().__init__()
            self.model = hf_model

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                inputs["token_type_ids"] = token_type_ids
            return self.model(**inputs).logits

    return LogitsOnly().eval()


def _features(tokenizer, pairs: Sequence[tuple[str, str]], input_names: Sequence[str]) -> dict[str, np.ndarray]:
    encoded = tokenizer([p for p, _ in pairs], [h for _, h in pairs], padding=True, truncation="only_first",
                        max_length=256, return_tensors="np")  # fmt: skip
    out = {name: np.asarray(encoded[name], dtype=np.int64) for name in input_names if name in encoded}
    if "token_type_ids" in input_names and "token_type_ids" not in out:
        out["token_type_ids"] = np.zeros_like(out["input_ids"])
    return out


def export_onnx_graph(hf_model, tokenizer, input_names: Sequence[str], path: Path, *, opset: int = OPSET) -> None:
    """Write ``hf_model`` as an ONNX graph with dynamic batch and sequence axes (dynamo exporter)."""
    import torch

    features = _features(tokenizer, CHECK_PAIRS[:2], input_names)
    sample = {name: torch.from_numpy(array) for name, array in features.items()}
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    dynamic = {name: {0: batch, 1: sequence} for name in input_names}
    with warnings.catch_warnings(), open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(
                _wrapper(hf_model, input_names), (), kwargs=sample, dynamo=True, dynamic_shapes=dynamic,
                input_names=list(input_names), output_names=["logits"], opset_version=opset, optimize=True,
            )  # fmt: skip
        except Exception as error:  # the exporter raises many kinds of errors for unsupported models
            raise ExportError(f"torch.onnx.export failed for {type(hf_model).__name__}: {error}") from error
    program.save(str(path))


def reference_logits(runner, tokenizer, pairs: Sequence[tuple[str, str]], input_names: Sequence[str]) -> np.ndarray:
    """Logits for ``pairs`` through the project's own length-sorted batching (what the rerankers run)."""
    encoded = encode_pairs(tokenizer, [p for p, _ in pairs], [h for _, h in pairs], 256)
    return run_batches(encoded, runner, input_names=input_names, pad_token_id=tokenizer.pad_token_id or 0,
                       batch_size=2, show_progress=False)  # fmt: skip


def quantize_onnx_dynamic(source: Path, target: Path) -> None:
    """int8 weights for every MatMul/Gemm, activations quantized per batch (onnxruntime dynamic quantization)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        try:
            quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        except Exception as error:  # pre-processing is an optimisation; quantize the raw graph without it
            logger.info("onnx quantization pre-processing skipped: %s", error)
            prepared = source
        quantize_dynamic(str(prepared), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul", "Gemm"])  # fmt: skip


def quantize_openvino_static(ov_model, tokenizer, input_names: Sequence[str], pairs: Sequence[tuple[str, str]]):
    """NNCF static int8 quantization of an OpenVINO model, calibrated on one tokenised pair per sample."""
    try:
        import nncf
    except ImportError as error:
        raise MissingDependencyError("OpenVINO int8 export needs nncf: pip install 'nli-rerank[openvino]'") from error
    samples = [_features(tokenizer, [pair], input_names) for pair in pairs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nncf.quantize(
            ov_model, nncf.Dataset(samples), model_type=nncf.ModelType.TRANSFORMER, subset_size=len(samples),
            preset=nncf.QuantizationPreset.MIXED,
        )  # fmt: skip


def read_pairs_tsv(path: str | Path, limit: int | None = None) -> list[tuple[str, str]]:
    """(premise, hypothesis) pairs from a TSV whose first two columns hold them; a header row premise/hypothesis
    is skipped.

    Raises:
        FileNotFoundError: No such file.
        ValueError: A row with fewer than two columns, or no pairs at all.
    """
    path = Path(path)
    pairs: list[tuple[str, str]] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if number == 1 and [cell.lower() for cell in row[:2]] == ["premise", "hypothesis"]:
                continue
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                raise ValueError(f"{path}:{number}: expected premise<TAB>hypothesis, got {row!r}")
            pairs.append((row[0], row[1]))
            if limit is not None and len(pairs) >= limit:
                break
    if not pairs:
        raise ValueError(f"{path} holds no (premise, hypothesis) pairs")
    return pairs


def _versions(*packages: str) -> dict[str, str]:
    found = {}
    for package in packages:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[package] = metadata.version(package)
    return found


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not overwrite:
            raise FileExistsError(f"{out} already exists and is not empty; choose another --out or pass overwrite")
        if out.is_dir():
            shutil.rmtree(out)
        else:
            out.unlink()


def export_model(
    model: str,
    out: str | Path,
    *,
    format: str = "onnx",
    quantize: str | None = None,
    calibration: Sequence[tuple[str, str]] | None = None,
    labels: Sequence[str] | Mapping[int, str] | None = None,
    opset: int = OPSET,
    overwrite: bool = False,
) -> Path:
    """Export a PyTorch cross-encoder to a directory with the graph, config.json, tokenizer and manifest.json.

    Args:
        model: Hub id or directory with PyTorch/SafeTensors weights, or a directory with an fp32 model.onnx (to
            quantize it or convert it to OpenVINO without PyTorch).
        out: Directory to create (it must not exist or be empty unless ``overwrite``).
        format: "onnx" (model.onnx) or "openvino" (openvino_model.xml + .bin).
        quantize: None for fp32, "int8" for dynamic (onnx) or calibrated static (openvino) int8.
        calibration: (premise, hypothesis) pairs for OpenVINO int8, a few hundred like those to be scored.
        labels: Label names in logit order, written to config.json's id2label (for LABEL_0, LABEL_1 configs).
        opset: ONNX opset.
        overwrite: Replace a non-empty ``out``.

    Returns:
        The directory written.

    Raises:
        ValueError: Unknown format/quantization, OpenVINO int8 without calibration pairs, wrong label count.
        ExportError: The exporter failed, or the fp32 graph's logits differ from PyTorch by more than 1e-3.
        MissingDependencyError: onnxruntime/onnx (or openvino/nncf) is not installed.

    Example:
        >>> export_model("path/to/nli-model", "out/nli-openvino", format="openvino")  # doctest: +SKIP
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {QUANTIZATIONS}, got {quantize!r}")
    if format == "openvino" and quantize == "int8" and not calibration:
        raise ValueError(
            "OpenVINO int8 is calibrated static quantization: give calibration pairs (a TSV of premise<TAB>hypothesis "
            "via --calibration; a few hundred pairs like the ones you will score), or use --format onnx for "
            "data-free dynamic int8"
        )
    needed = [
        ("onnx", format),
        ("onnxscript", format),
        ("onnxruntime", "onnx") if format == "onnx" else ("openvino", format),
    ]
    for package, extra in needed:
        if importlib.util.find_spec(package) is None:
            raise MissingDependencyError(f"export to {format} needs {package!r}: pip install 'nli-rerank[{extra}]'")
    from rerank.backends import torch_backend
    from rerank.labels import label_map_from_names

    out = Path(out).expanduser()
    _prepare_out(out, overwrite)
    source_graph = None if files.has_hf_weights(model) else files.find_onnx(model)
    if source_graph is None:
        loaded = torch_backend.load(model, precision="fp32")
        hf_model = loaded.runner.module
    else:  # an fp32 ONNX directory: quantize or convert it, checked against itself
        from rerank.backends import onnx_backend

        loaded, hf_model = onnx_backend.load(model, precision="fp32"), None
        if loaded.runner.precision != "fp32":
            raise ValueError(f"{source_graph} is already quantized; export from the fp32 weights or an fp32 graph")
    tokenizer, input_names = loaded.tokenizer, loaded.runner.input_names
    id2label = dict(loaded.id2label)
    if labels is not None:
        names = list(labels.values()) if isinstance(labels, Mapping) else list(labels)
        if len(names) != loaded.num_logits:
            raise ValueError(f"{len(names)} labels given for a model with {loaded.num_logits} output logits")
        label_map_from_names(names)  # validates the names
        id2label = dict(enumerate(names))
    reference = reference_logits(loaded.runner, tokenizer, CHECK_PAIRS, input_names)

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}-") as scratch:
        work = Path(scratch)
        onnx_path = work / files.ONNX_FILE
        if hf_model is not None:
            export_onnx_graph(hf_model, tokenizer, input_names, onnx_path, opset=opset)
        else:
            shutil.copy(source_graph, onnx_path)
            for extra in source_graph.parent.glob("*.data"):
                shutil.copy(extra, work / extra.name)
        quantization: dict[str, Any] | None = None
        if format == "onnx" and quantize == "int8":
            fp32_path = work / "fp32.onnx"
            onnx_path.rename(fp32_path)
            quantize_onnx_dynamic(fp32_path, onnx_path)
            fp32_path.unlink()
            quantization = {"method": "dynamic", "weights": "int8 per channel", "tool": "onnxruntime.quantization"}
        target = out if format == "onnx" else work / "ov"
        target.mkdir(parents=True, exist_ok=True)
        if format == "onnx":
            shutil.move(str(onnx_path), target / files.ONNX_FILE)
            for extra in work.glob("*.data"):  # external weights of a > 2 GB graph
                shutil.move(str(extra), target / extra.name)
        else:
            quantization = _write_openvino(onnx_path, target, tokenizer, input_names, quantize, calibration)
            shutil.copytree(target, out, dirs_exist_ok=True)
    config = (
        json.loads(hf_model.config.to_json_string())
        if hf_model is not None
        else files.read_config(files.model_directory(source_graph))
    )
    _write_metadata(out, config, tokenizer, id2label)
    check = _verify(out, format, reference)
    precision = "int8" if quantize else "fp32"
    if precision == "fp32" and check["max_abs_logit_diff"] > FP32_TOLERANCE:
        shutil.rmtree(out)
        raise ExportError(
            f"the exported {format} graph differs from its source by {check['max_abs_logit_diff']:.2e} in the logits "
            f"(tolerance {FP32_TOLERANCE}); nothing was written. Try another --opset"
        )
    manifest = {
        "format": format,
        "precision": precision,
        "quantization": quantization,
        "source": model,
        "source_fingerprint": loaded.fingerprint,
        "architecture": type(hf_model).__name__ if hf_model is not None else "onnx graph",
        "exporter": "torch.onnx.export(dynamo=True, shared batch/sequence Dims)"
        if hf_model is not None
        else f"copied from {source_graph}",
        "opset": opset if hf_model is not None else None,
        "inputs": list(input_names),
        "num_logits": loaded.num_logits,
        "id2label": {str(k): v for k, v in id2label.items()},
        "verification": check,
        "versions": _versions(*VERSIONED_PACKAGES),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    logger.info("exported %s to %s (%s, %s; max |logit diff| %.2e)", model, out, format, precision,
                check["max_abs_logit_diff"])  # fmt: skip
    return out


def _write_openvino(onnx_path: Path, target: Path, tokenizer, input_names, quantize, calibration) -> dict | None:
    import openvino as ov

    ov_model = ov.convert_model(str(onnx_path))
    quantization = None
    if quantize == "int8":
        ov_model = quantize_openvino_static(ov_model, tokenizer, input_names, list(calibration))
        quantization = {"method": "static", "preset": "mixed", "tool": "nncf", "calibration_pairs": len(calibration)}
    ov.save_model(ov_model, str(target / files.OPENVINO_FILE), compress_to_fp16=False)
    return quantization


def _write_metadata(out: Path, config: dict[str, Any], tokenizer, id2label: dict[int, str]) -> None:
    """config.json (when there is a config or labels to record) and the tokenizer files."""
    config = dict(config)
    if id2label:
        config["id2label"] = {str(index): name for index, name in id2label.items()}
        config["label2id"] = {name: index for index, name in id2label.items()}
        config.setdefault("num_labels", len(id2label))
    if config:
        (out / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tokenizer.save_pretrained(str(out))


def _verify(out: Path, format: str, reference: np.ndarray) -> dict[str, Any]:
    """Compare the written graph, loaded the way the rerankers load it, with the PyTorch logits."""
    from rerank.backends import load_model

    loaded = load_model(str(out), backend=format)
    got = reference_logits(loaded.runner, loaded.tokenizer, CHECK_PAIRS, loaded.runner.input_names)
    return {
        "pairs": len(CHECK_PAIRS),
        "max_abs_logit_diff": float(np.abs(got - reference).max()),
        "argmax_agreement": float((got.argmax(axis=1) == reference.argmax(axis=1)).mean()),
    }


def cached_export(model: str, *, format: str, quantize: str | None = None) -> Path:
    """The export of ``model`` in the export cache (rerank.backends.files.export_cache_dir), made on first use.

    Keyed by the model directory's fingerprint (or the hub id), format and precision; delete the cache directory
    to force a fresh export.
    """
    expanded = os.path.expanduser(model)
    key = directory_fingerprint(expanded, os.path.abspath(expanded)) if os.path.isdir(expanded) else model
    name = f"{Path(expanded).name or 'model'}-{key.replace('/', '--')}-{format}-{quantize or 'fp32'}"
    target = files.export_cache_dir() / name
    if (target / "manifest.json").is_file():
        return target
    logger.warning("exporting %s to %s once (%s, %s); later loads reuse it", model, target, format, quantize or "fp32")
    staging = target.with_name(f".{target.name}.{os.getpid()}")
    export_model(model, staging, format=format, quantize=quantize, overwrite=True)
    try:
        staging.rename(target)
    except OSError:  # another process finished the same export first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def cached_quantized_onnx(graph: Path) -> Path:
    """A dynamically quantized int8 copy of an fp32 ONNX graph, beside its tokenizer in the export cache."""
    source_dir = files.model_directory(graph)
    key = directory_fingerprint(source_dir, str(graph.resolve()))
    target = files.export_cache_dir() / f"{source_dir.name}-{key}-onnx-int8"
    if (target / files.ONNX_FILE).is_file():
        return target / files.ONNX_FILE
    logger.warning("quantizing %s to int8 once into %s; later loads reuse it", graph, target)
    staging = target.with_name(f".{target.name}.{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(
        source_dir,
        staging,
        ignore=shutil.ignore_patterns(
            "*.onnx", "*.onnx.data", "*.xml", "*.bin", "*.safetensors", "*.h5", "*.msgpack", "onnx"
        ),
    )
    quantize_onnx_dynamic(graph, staging / files.ONNX_FILE)
    manifest = files.read_manifest(source_dir)
    manifest.update(
        format="onnx",
        precision="int8",
        quantization={
            "method": "dynamic",
            "weights": "int8 per channel",
            "tool": "onnxruntime.quantization",
            "from": str(graph),
        },
    )
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    try:
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return target / files.ONNX_FILE
