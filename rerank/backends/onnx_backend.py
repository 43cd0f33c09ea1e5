"""ONNX Runtime backend (CPU): runs an ONNX graph as given (the file, DIR/model.onnx or DIR/onnx/model.onnx).

It never exports or quantizes: rerank.loading.load_model does that first (a cached export of PyTorch weights, a
cached dynamically quantized copy of an fp32 graph for precision="int8") and hands this backend the result.
Precisions: "fp32" runs an fp32 graph; "int8" needs a quantized graph. A graph that is already quantized runs as
int8 whatever was asked, since it cannot be un-quantized; ``runner.precision`` says so. onnxruntime has no bf16 CPU
kernels worth using (it would insert casts around fp32 kernels), so "bf16" is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from rerank.backends import files
from rerank.backends.base import LoadedModel
from rerank.backends.fingerprint import graph_fingerprint
from rerank.errors import ModelLoadError

__all__ = ["PRECISIONS", "can_load", "check_options", "graph_precision", "load"]

logger = logging.getLogger(__name__)

PRECISIONS = ("fp32", "int8")
QUANTIZED_OPS = {"MatMulInteger", "QLinearMatMul", "DynamicQuantizeLinear", "DequantizeLinear", "QGemm",
                 "MatMulIntegerToFloat", "DynamicQuantizeMatMul", "QAttention"}  # fmt: skip
_NUMPY_TYPES = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}


def can_load(model: str, precision: str, device: str) -> bool:
    """True when ``model`` already is an ONNX graph this backend can run as asked (checked from file names only)."""
    return device == "cpu" and precision in PRECISIONS and files.find_onnx(model) is not None


def graph_precision(path: Path) -> str:
    """ "int8" when the graph holds quantization operators, else "fp32" (the manifest's word when rerank.export
    wrote one; otherwise the graph is parsed)."""
    manifest = files.read_manifest(files.model_directory(path))
    if manifest.get("precision") in {"fp32", "int8"} and manifest.get("format") == "onnx":
        return manifest["precision"]
    import onnx

    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception as error:  # onnx raises DecodeError, ValueError, ... for a damaged file
        raise ModelLoadError(
            f"could not read the ONNX model {path}: {error}. The file is damaged or not an ONNX graph; "
            "re-create it with `rerank export MODEL --format onnx --out DIR`"
        ) from error
    return "int8" if any(node.op_type in QUANTIZED_OPS for node in graph.node) else "fp32"


class OnnxRunner:
    """Runs an onnxruntime InferenceSession on the CPU; feeds only the inputs the graph lists."""

    backend = "onnx"

    def __init__(self, session, precision: str):
        self._session = session
        self.precision = precision
        self._types = {item.name: _NUMPY_TYPES.get(item.type, np.int64) for item in session.get_inputs()}
        self.input_names = tuple(self._types)
        self._output = session.get_outputs()[0].name

    def __call__(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        feed = {name: np.ascontiguousarray(features[name], dtype=self._types[name]) for name in self.input_names}
        return np.asarray(self._session.run([self._output], feed)[0], dtype=np.float32)


def session_options(threads: int | None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if threads is not None:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return options


def check_options(precision: str, device: str) -> None:
    """Raise ValueError for a precision other than fp32/int8 or a device other than cpu."""
    if precision not in PRECISIONS:
        raise ValueError(
            f"the onnx backend supports precision {PRECISIONS}, got {precision!r} (onnxruntime has no fast bf16 CPU "
            "kernels; use backend='openvino' or 'torch' for bf16)"
        )
    if device != "cpu":
        raise ValueError(f"the onnx backend runs on the CPU only, got device={device!r}; use backend='torch'")


def load(model: str, *, precision: str = "fp32", device: str = "cpu", threads: int | None = None) -> LoadedModel:
    """Load the ONNX graph ``model`` names (the file, DIR/model.onnx or DIR/onnx/model.onnx), as given.

    Raises:
        ValueError: A precision other than fp32/int8, a device other than cpu, or int8 asked of an fp32 graph.
        ModelLoadError: No graph, or a damaged or tokenizer-less one.
    """
    check_options(precision, device)
    graph = files.find_onnx(model)
    if graph is None:
        raise files.no_graph(
            model, "onnx", "ONNX graph (looked for the .onnx file, DIR/model.onnx, DIR/onnx/model.onnx)", "onnx"
        )
    import onnxruntime as ort

    stored = graph_precision(graph)
    if precision == "int8" and stored == "fp32":
        raise ValueError(
            f"{graph} is an fp32 graph and the onnx backend runs graphs as given: quantize it once with `rerank "
            f"export {model} --format onnx --quantize int8 --out DIR`, or load it with rerank.loading.load_model, "
            "which keeps a quantized copy in its cache"
        )
    if stored != precision:
        logger.info(
            "%s is an %s graph; running it as %s (a quantized graph cannot be un-quantized)", graph, stored, stored
        )
    try:
        session = ort.InferenceSession(str(graph), session_options(threads), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own Fail/InvalidGraph/... exceptions
        raise ModelLoadError(
            f"onnxruntime could not load {graph}: {error}. re-create it with `rerank export MODEL --format onnx`"
        ) from error
    runner = OnnxRunner(session, stored)
    return files.loaded_from_graph(
        model,
        graph,
        runner,
        output_width(session),
        fingerprint=graph_fingerprint(graph),
        device=device,
        threads=threads,
    )


def output_width(session) -> int:
    """The number of logits, from the output shape or, when that is symbolic, by running a two-token input."""
    width = session.get_outputs()[0].shape[-1]
    if isinstance(width, int):
        return width
    feed = {item.name: np.ones((1, 2), dtype=_NUMPY_TYPES.get(item.type, np.int64)) for item in session.get_inputs()}
    return int(session.run(None, feed)[0].shape[-1])
