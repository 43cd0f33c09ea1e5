"""OpenVINO backend (CPU): runs an OpenVINO IR (openvino_model.xml) or an ONNX graph as given.

It never exports: rerank.loading.load_model exports PyTorch weights once into a cache and hands this backend the
result.

Precisions: "fp32" pins OpenVINO's inference precision to f32 (on CPUs with AMX it would otherwise pick bf16 by
itself); "bf16" asks for bf16 and needs a CPU that has it (OpenVINO reports BF16 among the CPU's optimization
capabilities: AVX-512 BF16 or AMX); "int8" runs a graph quantized by ``rerank export --format openvino
--quantize int8`` (NNCF static quantization, calibrated). A graph that is already quantized runs as int8.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np

from rerank.backends import files
from rerank.backends.base import LoadedModel
from rerank.backends.fingerprint import graph_fingerprint
from rerank.errors import ModelLoadError

__all__ = ["PRECISIONS", "can_load", "check_options", "cpu_supports_bf16", "graph_precision", "load"]

logger = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16", "int8")
_HINTS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}  # int8 graphs keep their non-quantized parts in f32


@lru_cache(maxsize=1)
def cpu_supports_bf16() -> bool:
    """True when OpenVINO can run bf16 kernels on this CPU (AVX-512 BF16 or AMX)."""
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def can_load(model: str, precision: str, device: str) -> bool:
    """True when ``model`` already is an IR or ONNX graph this backend can run as asked (no conversion needed)."""
    if device != "cpu" or precision not in PRECISIONS:
        return False
    if precision == "bf16" and not cpu_supports_bf16():
        return False
    graph = files.find_openvino(model) or files.find_onnx(model)
    return graph is not None and (precision != "int8" or graph_precision_from_path(graph) == "int8")


def graph_precision(ov_model) -> str:
    """ "int8" when the graph holds quantization (FakeQuantize) or int8/uint8 weights, else "fp32"."""
    for op in ov_model.get_ops():
        kind = op.get_type_name()
        if kind in {"FakeQuantize", "DequantizeLinear", "MatMulInteger", "DynamicQuantizeLinear"}:
            return "int8"
        if kind == "Constant" and op.get_output_element_type(0).get_type_name() in {"i8", "u8"}:
            return "int8"
    return "fp32"


def graph_precision_from_path(graph: Path) -> str:
    """The stored precision of an IR or ONNX file (the manifest when rerank.export wrote one, else the graph)."""
    manifest = files.read_manifest(files.model_directory(graph))
    if manifest.get("precision") in {"fp32", "int8"}:
        return manifest["precision"]
    return graph_precision(_read(graph))


def _read(graph: Path):
    import openvino as ov

    try:
        return ov.Core().read_model(str(graph))
    except Exception as error:  # OpenVINO raises RuntimeError with the parser's message
        detail = " ".join(str(error).split())[-300:]
        kind = "onnx" if graph.suffix == ".onnx" else "openvino"
        raise ModelLoadError(
            f"OpenVINO could not read {graph} ({detail}). The file is damaged or not a model graph; re-create it "
            f"with `rerank export MODEL --format {kind} --out DIR`"
        ) from error


class OpenVINORunner:
    """Runs a compiled OpenVINO model with one infer request (guarded by a lock: requests are not thread-safe)."""

    backend = "openvino"

    def __init__(self, compiled, precision: str):
        self._compiled = compiled
        self._request = compiled.create_infer_request()
        self._lock = threading.Lock()
        self.precision = precision
        self._types = {}
        for port in compiled.inputs:
            kind = port.get_element_type().get_type_name()
            self._types[port.get_any_name()] = np.int32 if kind == "i32" else np.int64
        self.input_names = tuple(self._types)
        self._output = compiled.output(0)

    def __call__(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        feed = {name: np.ascontiguousarray(features[name], dtype=self._types[name]) for name in self.input_names}
        with self._lock:
            result = self._request.infer(feed)
            return np.array(result[self._output], dtype=np.float32, copy=True)


def check_options(precision: str, device: str) -> None:
    """Raise ValueError for an unknown precision, bf16 on a CPU without it, or a non-CPU device."""
    if precision not in PRECISIONS:
        raise ValueError(f"the openvino backend supports precision {PRECISIONS}, got {precision!r}")
    if device != "cpu":
        raise ValueError(f"the openvino backend here runs on the CPU only, got device={device!r}; use backend='torch'")
    if precision == "bf16" and not cpu_supports_bf16():
        raise ValueError(
            "precision='bf16' needs a CPU with bf16 support (AVX-512 BF16 or AMX); OpenVINO reports none on this "
            "machine, where bf16 would only be emulated. Use precision='fp32' or 'int8'"
        )


def load(model: str, *, precision: str = "fp32", device: str = "cpu", threads: int | None = None) -> LoadedModel:
    """Load ``model`` as given: a directory or file with openvino_model.xml or model.onnx.

    Raises:
        ValueError: An unknown precision, bf16 on a CPU without it, int8 for an fp32 graph, or a non-CPU device.
        ModelLoadError: No graph, or a damaged or tokenizer-less one.
    """
    check_options(precision, device)
    graph = files.find_openvino(model) or files.find_onnx(model)
    if graph is None:
        raise files.no_graph(model, "openvino", f"{files.OPENVINO_FILE} or {files.ONNX_FILE}", "openvino")
    import openvino as ov

    ov_model = _read(graph)
    stored = graph_precision(ov_model)
    if precision == "int8" and stored != "int8":
        raise ValueError(
            f"{graph} is an fp32 graph; OpenVINO int8 needs a calibrated, quantized graph: run `rerank export "
            f"{model} --format openvino --quantize int8 --out DIR` once and load DIR"
        )
    run_as = "int8" if stored == "int8" else precision
    config: dict[str, str | int] = {
        "INFERENCE_PRECISION_HINT": _HINTS[run_as],
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": "1",
    }
    if threads is not None:
        config["INFERENCE_NUM_THREADS"] = int(threads)
    try:
        compiled = ov.Core().compile_model(ov_model, "CPU", config)
    except Exception as error:
        raise ModelLoadError(f"OpenVINO could not compile {graph}: {error}") from error
    runner = OpenVINORunner(compiled, run_as)
    width = ov_model.output(0).get_partial_shape()[-1]
    num_logits = width.get_length() if width.is_static else _probe_width(runner)
    return files.loaded_from_graph(
        model, graph, runner, num_logits, fingerprint=graph_fingerprint(graph), device=device, threads=threads
    )


def _probe_width(runner: OpenVINORunner) -> int:
    feed = {name: np.ones((1, 2), dtype=np.int64) for name in runner.input_names}
    return int(runner(feed).shape[-1])
