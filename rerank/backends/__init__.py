"""Inference backends behind one protocol; heavy packages are imported only when a backend is loaded.

Each backend loads a model *as given* (torch: a hub id or a directory of PyTorch weights; onnx / openvino: a graph
file or a directory holding one) and never converts it. Choosing a backend and converting a model for it (export,
quantization) happen one layer up, in rerank.loading. This package holds the registry both use.

Imports go one way: rerank.loading and rerank.export build on the backends; nothing here imports them.
"""

from __future__ import annotations

import importlib.util

from rerank.backends.base import BatchRunner, LoadedModel

__all__ = [
    "AUTO_ORDER",
    "BACKENDS",
    "DYNAMIC_INT8_ORDER",
    "BatchRunner",
    "LoadedModel",
    "is_installed",
]

# name -> (module implementing can_load(), check_options() and load(), package that must be importable, pip extra)
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


def is_installed(backend: str) -> bool:
    """True when the package ``backend`` needs can be imported (checked without importing it).

    Raises:
        KeyError: ``backend`` is not in BACKENDS.
    """
    return importlib.util.find_spec(BACKENDS[backend][1]) is not None
