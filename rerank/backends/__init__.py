"""Inference backends behind one protocol; heavy packages are imported only when a backend is loaded.

``backend="auto"`` takes the first installed backend in ``AUTO_ORDER`` that supports the requested precision.
"""

from __future__ import annotations

import importlib
import importlib.util

from rerank.backends.base import BatchRunner, LoadedModel
from rerank.errors import MissingDependencyError

__all__ = ["AUTO_ORDER", "BACKENDS", "BatchRunner", "LoadedModel", "load_model"]

# name -> (module implementing load(), package that must be importable, pip extra that installs it)
BACKENDS: dict[str, tuple[str, str, str]] = {
    "torch": ("rerank.backends.torch_backend", "torch", "nli-rerank"),
}
AUTO_ORDER: tuple[str, ...] = ("torch",)


def _installed(backend: str) -> bool:
    return importlib.util.find_spec(BACKENDS[backend][1]) is not None


def load_model(
    model: str, *, backend: str = "auto", precision: str = "fp32", device: str = "cpu", threads: int | None = None
) -> LoadedModel:
    """Load a cross-encoder with the requested backend.

    Raises:
        ValueError: Unknown backend name (the message lists the valid ones).
        MissingDependencyError: The backend's package is not installed (the message names the pip extra).
    """
    if backend == "auto":
        available = [name for name in AUTO_ORDER if _installed(name)]
        if not available:
            raise MissingDependencyError("no inference backend is installed: pip install 'nli-rerank'")
        backend = available[0]
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {['auto', *BACKENDS]}")
    module_name, package, extra = BACKENDS[backend]
    if not _installed(backend):
        raise MissingDependencyError(f"backend {backend!r} needs the {package!r} package: pip install '{extra}'")
    module = importlib.import_module(module_name)
    return module.load(model, precision=precision, device=device, threads=threads)
