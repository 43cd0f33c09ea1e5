"""Inference backends behind one protocol; heavy packages are imported only when a backend is loaded.

``backend="auto"`` takes the first installed backend in ``AUTO_ORDER`` that can run the model *as given* at the
requested precision and device, judged from file names alone (no timing, no conversion at load time): an exported
directory (openvino_model.xml or model.onnx) goes to OpenVINO, then onnxruntime, except an ONNX graph quantized
dynamically for onnxruntime (MatMulInteger), which goes to onnxruntime first; PyTorch weights and hub ids go to torch.
Naming ``backend="onnx"`` or ``"openvino"`` for PyTorch weights exports them once into a cache directory.
"""

from __future__ import annotations

import importlib
import importlib.util

from rerank.backends import files
from rerank.backends.base import BatchRunner, LoadedModel
from rerank.errors import MissingDependencyError

__all__ = ["AUTO_ORDER", "BACKENDS", "DYNAMIC_INT8_ORDER", "BatchRunner", "LoadedModel", "choose_backend", "load_model"]

# name -> (module implementing load(), package that must be importable, pip extra that installs it)
BACKENDS: dict[str, tuple[str, str, str]] = {
    "torch": ("rerank.backends.torch_backend", "torch", "nli-rerank"),
    "onnx": ("rerank.backends.onnx_backend", "onnxruntime", "nli-rerank[onnx]"),
    "openvino": ("rerank.backends.openvino_backend", "openvino", "nli-rerank[openvino]"),
}
# Fastest first, as measured by benchmarks/rerank_speed.py (see docs/fast_inference.md); every entry passes the
# fidelity bar there (argmax agreement >= 99% and accuracy within 0.5 point of fp32 torch).
AUTO_ORDER: tuple[str, ...] = ("openvino", "onnx", "torch")
# onnxruntime's own dynamic-int8 graphs run about 1.8x faster there than in OpenVINO (5.7 against 3.2 pairs/s for
# the int8 MS MARCO MiniLM-L12 on SciFact abstracts, benchmarks/relevance_backends.py), so auto tries onnxruntime
# first for them.
DYNAMIC_INT8_ORDER: tuple[str, ...] = ("onnx", "openvino", "torch")


def _installed(backend: str) -> bool:
    return importlib.util.find_spec(BACKENDS[backend][1]) is not None


def choose_backend(model: str, *, precision: str = "fp32", device: str = "cpu") -> str:
    """The backend ``backend="auto"`` uses: the first in AUTO_ORDER (DYNAMIC_INT8_ORDER for an onnxruntime
    dynamic-int8 graph) that is installed and can run ``model`` as given.

    Raises:
        MissingDependencyError: No backend is installed.
        ValueError: No installed backend can run this model at this precision on this device.
    """
    graph = None if files.find_openvino(model) else files.find_onnx(model)
    order = DYNAMIC_INT8_ORDER if graph is not None and files.is_dynamic_int8_onnx(graph) else AUTO_ORDER
    available = [name for name in order if _installed(name)]
    if not available:
        raise MissingDependencyError("no inference backend is installed: pip install 'nli-rerank'")
    for name in available:
        if importlib.import_module(BACKENDS[name][0]).can_load(model, precision, device):
            return name
    raise ValueError(
        f"no installed backend ({', '.join(available)}) can run {model!r} at precision={precision!r} on "
        f"device={device!r}; name a backend explicitly, or export the model first (`rerank export --help`)"
    )


def load_model(
    model: str, *, backend: str = "auto", precision: str = "fp32", device: str = "cpu", threads: int | None = None
) -> LoadedModel:
    """Load a cross-encoder with the requested backend.

    Raises:
        ValueError: Unknown backend name (the message lists the valid ones).
        MissingDependencyError: The backend's package is not installed (the message names the pip extra).
    """
    if backend == "auto":
        backend = choose_backend(model, precision=precision, device=device)
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {['auto', *BACKENDS]}")
    module_name, package, extra = BACKENDS[backend]
    if not _installed(backend):
        raise MissingDependencyError(f"backend {backend!r} needs the {package!r} package: pip install '{extra}'")
    module = importlib.import_module(module_name)
    return module.load(model, precision=precision, device=device, threads=threads)
