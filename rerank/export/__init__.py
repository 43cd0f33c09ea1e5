"""Export a PyTorch cross-encoder to ONNX or OpenVINO, optionally int8, as a directory the rerankers load directly.

One module per job: ``graph`` (torch -> ONNX, dynamo exporter), ``quantize`` (onnxruntime dynamic int8, NNCF
static int8), ``openvino`` (IR conversion), ``verify`` (the parity check against the source), ``manifest``
(manifest.json), ``staging`` (build beside the destination, replace only an earlier export), ``cache`` (exports made
on demand by rerank.loading) and ``calibration`` (reading calibration pairs). ``export_model`` runs them in order.

int8: for ONNX, dynamic quantization (int8 weights, activations quantized per batch; no data needed). For OpenVINO,
NNCF static post-training quantization calibrated on (premise, hypothesis) pairs like the ones to be scored
(``calibration=``).

Example:
    >>> from rerank.export import export_model
    >>> export_model("path/to/nli-model", "nli-onnx-int8", format="onnx", quantize="int8")  # doctest: +SKIP
    >>> NLIReranker("nli-onnx-int8")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rerank.backends import files
from rerank.errors import MissingDependencyError
from rerank.export import manifest as manifests
from rerank.export import staging
from rerank.export.cache import cached_export, cached_quantized_onnx
from rerank.export.calibration import read_pairs_tsv
from rerank.export.errors import ExportError
from rerank.export.graph import OPSET, export_onnx_graph
from rerank.export.openvino import write_openvino
from rerank.export.quantize import ONNX_DYNAMIC, quantize_onnx_dynamic
from rerank.export.verify import check_export, reference_logits, require_parity, verification_pairs

__all__ = [
    "EXPORT_STEPS",
    "FORMATS",
    "QUANTIZATIONS",
    "ExportError",
    "cached_export",
    "cached_quantized_onnx",
    "export_model",
    "read_pairs_tsv",
]

logger = logging.getLogger(__name__)

FORMATS = ("onnx", "openvino")
EXPORT_STEPS = 4  # how many times export_model calls ``progress``
QUANTIZATIONS = (None, "int8")


def _check_arguments(format: str, quantize: str | None, calibration) -> None:
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


def _load_source(model: str):
    """(loaded model, transformers module or None, source ONNX graph or None) for PyTorch weights or an fp32 graph."""
    source_graph = None if files.has_hf_weights(model) else files.find_onnx(model)
    if source_graph is None:
        from rerank.backends import torch_backend

        loaded = torch_backend.load(model, precision="fp32")
        if not isinstance(loaded.runner, torch_backend.TorchRunner):
            raise TypeError(f"the torch backend returned a {type(loaded.runner).__name__}, not a TorchRunner")
        return loaded, loaded.runner.module, None
    from rerank.backends import onnx_backend  # an fp32 ONNX directory: quantize or convert it, checked against itself

    loaded = onnx_backend.load(model, precision="fp32")
    if loaded.runner.precision != "fp32":
        raise ValueError(f"{source_graph} is already quantized; export from the fp32 weights or an fp32 graph")
    return loaded, None, source_graph


def _labels(loaded, labels: Sequence[str] | Mapping[int, str] | None) -> dict[int, str]:
    if labels is None:
        return dict(loaded.id2label)
    from rerank.labels import label_map_from_names

    names = list(labels.values()) if isinstance(labels, Mapping) else list(labels)
    if len(names) != loaded.num_logits:
        raise ValueError(f"{len(names)} labels given for a model with {loaded.num_logits} output logits")
    label_map_from_names(names)  # validates the names
    return dict(enumerate(names))


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
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Export a PyTorch cross-encoder to a directory with the graph, config.json, tokenizer and manifest.json.

    The directory is built and verified in a hidden sibling of ``out`` and renamed into place only when complete.

    Args:
        model: Hub id or directory with PyTorch/SafeTensors weights, or a directory with an fp32 model.onnx (to
            quantize it or convert it to OpenVINO without PyTorch).
        out: Directory to create (it must not exist or be empty unless ``overwrite``).
        format: "onnx" (model.onnx) or "openvino" (openvino_model.xml + .bin).
        quantize: None for fp32, "int8" for dynamic (onnx) or calibrated static (openvino) int8.
        calibration: (premise, hypothesis) pairs for OpenVINO int8, a few hundred like those to be scored.
        labels: Label names in logit order, written to config.json's id2label (for LABEL_0, LABEL_1 configs).
        opset: ONNX opset.
        overwrite: Replace ``out`` if it holds an earlier export (its manifest.json says so); anything else there
            is refused. The old export is removed only after the new one is complete and verified.
        progress: Called with the name of each step as it starts (EXPORT_STEPS of them), e.g. to move a bar.

    Returns:
        The directory written.

    Raises:
        ValueError: Unknown format/quantization, OpenVINO int8 without calibration pairs, wrong label count.
        FileExistsError: ``out`` is not empty and not replaceable (see ``overwrite``); it is left untouched.
        ExportError: The exporter failed, or the fp32 graph's logits differ from PyTorch by more than 1e-3.
        MissingDependencyError: onnxruntime/onnx (or openvino/nncf) is not installed.

    Example:
        >>> export_model("path/to/nli-model", "out/nli-openvino", format="openvino")  # doctest: +SKIP
    """
    _check_arguments(format, quantize, calibration)
    step = progress or (lambda name: None)
    out = Path(out).expanduser()
    staging.check_destination(out, overwrite)
    step("loading the source model")
    loaded, hf_model, source_graph = _load_source(model)
    id2label = _labels(loaded, labels)
    input_names = loaded.runner.input_names
    pairs = verification_pairs()
    reference = reference_logits(loaded.runner, loaded.tokenizer, pairs, input_names)
    precision = "int8" if quantize else "fp32"

    with staging.staging_directory(out) as work:
        scratch, built = work / "scratch", work / "export"
        scratch.mkdir()
        built.mkdir()
        onnx_path = scratch / files.ONNX_FILE
        step("exporting the ONNX graph")
        windowed = 0
        if hf_model is not None:
            windowed = export_onnx_graph(hf_model, loaded.tokenizer, input_names, onnx_path, opset=opset)
        else:
            shutil.copy(source_graph, onnx_path)
            for extra in source_graph.parent.glob("*.data"):
                shutil.copy(extra, scratch / extra.name)
        quantization: dict[str, Any] | None = None
        step("quantizing to int8" if quantize else f"writing the {format} graph")
        if format == "onnx":
            if quantize == "int8":
                quantize_onnx_dynamic(onnx_path, built / files.ONNX_FILE)
                quantization = dict(ONNX_DYNAMIC)
            else:
                shutil.move(str(onnx_path), built / files.ONNX_FILE)
                for extra in scratch.glob("*.data"):  # external weights of a > 2 GB graph
                    shutil.move(str(extra), built / extra.name)
        else:
            quantization = write_openvino(onnx_path, built, loaded.tokenizer, input_names, quantize, calibration)
        shutil.rmtree(scratch)
        config = (
            json.loads(hf_model.config.to_json_string())
            if hf_model is not None
            else files.read_config(files.model_directory(source_graph))
        )
        _write_metadata(built, config, loaded.tokenizer, id2label)
        step(f"checking it against the source on {len(pairs)} pairs")
        check = check_export(built, format, reference, pairs)
        require_parity(check, format, precision)
        manifests.write_manifest(
            built,
            {
                "format": format,
                "precision": precision,
                "quantization": quantization,
                "source": model,
                "source_fingerprint": loaded.fingerprint,
                "architecture": type(hf_model).__name__ if hf_model is not None else "onnx graph",
                "exporter": "torch.onnx.export(dynamo=True, shared batch/sequence Dims)"
                + (f", windowed relative attention in {windowed} layers" if windowed else "")
                if hf_model is not None
                else f"copied from {source_graph}",
                "opset": opset if hf_model is not None else None,
                "inputs": list(input_names),
                "num_logits": loaded.num_logits,
                "id2label": {str(k): v for k, v in id2label.items()},
                "verification": check,
                "versions": manifests.package_versions(),
                "created": manifests.created_now(),
            },
        )
        staging.move_into_place(built, out, overwrite)
    logger.info("exported %s to %s (%s, %s; max |logit diff| %.2e)", model, out, format, precision,
                check["max_abs_logit_diff"])  # fmt: skip
    return out


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
