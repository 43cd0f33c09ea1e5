"""Load a cross-encoder: choose a backend, convert the model when that backend cannot run it as given, load it.

The backends (rerank.backends) load only what they are given. The decisions live here:

- ``backend="auto"`` takes the first installed backend in ``AUTO_ORDER`` that can run the model *as given* at the
  requested precision and device, judged from file names alone (no timing, no conversion): an exported directory
  (openvino_model.xml or model.onnx) goes to OpenVINO, then onnxruntime, except an ONNX graph quantized
  dynamically for onnxruntime (MatMulInteger), which goes to onnxruntime first (``DYNAMIC_INT8_ORDER``); PyTorch
  weights and hub ids go to torch.
- Naming ``backend="onnx"`` or ``"openvino"`` for PyTorch weights (a directory or hub id) exports them once into the
  export cache (rerank.export.cached_export) and loads the export.
- ``backend="onnx", precision="int8"`` for an fp32 graph quantizes it dynamically once into the export cache.

Example:
    >>> from rerank.loading import load_model
    >>> model = load_model("path/to/nli-onnx", backend="auto", precision="fp32")  # doctest: +SKIP
    >>> model.runner.backend, model.fingerprint  # doctest: +SKIP
    ('openvino', '3f1c0b6e9a2d4c5e8f7a6b5c4d3e2f10')
"""

from __future__ import annotations

import dataclasses
import importlib

from rerank.backends import AUTO_ORDER, BACKENDS, DYNAMIC_INT8_ORDER, LoadedModel, files, is_installed
from rerank.errors import MissingDependencyError

__all__ = ["choose_backend", "load_model"]


def choose_backend(model: str, *, precision: str = "fp32", device: str = "cpu") -> str:
    """The backend ``backend="auto"`` uses: the first in AUTO_ORDER (DYNAMIC_INT8_ORDER for an onnxruntime
    dynamic-int8 graph) that is installed and can run ``model`` as given.

    Raises:
        MissingDependencyError: No backend is installed.
        ValueError: No installed backend can run this model at this precision on this device.

    Example:
        >>> choose_backend("path/to/nli-onnx")  # doctest: +SKIP
        'openvino'
    """
    graph = None if files.find_openvino(model) else files.find_onnx(model)
    order = DYNAMIC_INT8_ORDER if graph is not None and files.is_dynamic_int8_onnx(graph) else AUTO_ORDER
    available = [name for name in order if is_installed(name)]
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
    """Load a cross-encoder with the requested backend, exporting or quantizing it once first where needed.

    Args:
        model: Hub id, a directory (PyTorch weights, model.onnx, openvino_model.xml) or a graph file.
        backend: "auto" or a key of rerank.backends.BACKENDS.
        precision: "fp32", "bf16" or "int8" (what each backend accepts is in docs/fast_inference.md).
        device: "cpu", or a torch device for backend="torch".
        threads: Intra-op threads, or None for the backend's default.

    Returns:
        The loaded model; ``source`` is ``model`` as given, even when a cached conversion was loaded.

    Raises:
        ValueError: Unknown backend name (the message lists the valid ones), or a precision/device it cannot run.
        MissingDependencyError: The backend's package is not installed (the message names the pip extra).
        ModelLoadError: The model cannot be found or read.

    Example:
        >>> load_model("cross-encoder/nli-deberta-v3-small", backend="onnx")  # doctest: +SKIP
    """
    if backend == "auto":
        backend = choose_backend(model, precision=precision, device=device)
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {['auto', *BACKENDS]}")
    module_name, package, extra = BACKENDS[backend]
    if not is_installed(backend):
        raise MissingDependencyError(f"backend {backend!r} needs the {package!r} package: pip install '{extra}'")
    module = importlib.import_module(module_name)
    module.check_options(precision, device)
    runnable = _runnable(model, backend, precision)
    loaded = module.load(runnable, precision=precision, device=device, threads=threads)
    return loaded if runnable == model else dataclasses.replace(loaded, source=model)


def _runnable(model: str, backend: str, precision: str) -> str:
    """What ``backend`` loads for ``model``: the model itself, or a cached export / int8 copy made from it."""
    if backend == "onnx":
        graph = files.find_onnx(model)
        if graph is None:
            files.check_exportable(model, files.ONNX_FILE)
            from rerank.export import cached_export

            return str(cached_export(model, format="onnx", quantize="int8" if precision == "int8" else None))
        if precision == "int8":
            from rerank.backends.onnx_backend import graph_precision

            if graph_precision(graph) == "fp32":
                from rerank.export import cached_quantized_onnx

                return str(cached_quantized_onnx(graph))
        return model
    if backend == "openvino":
        if files.find_openvino(model) or files.find_onnx(model):
            return model
        files.check_exportable(model, f"{files.OPENVINO_FILE} or {files.ONNX_FILE}")
        if precision == "int8":
            raise ValueError(
                f"{model!r} holds PyTorch weights; OpenVINO int8 needs a calibrated, quantized graph: run `rerank "
                f"export {model} --format openvino --quantize int8 --calibration PAIRS.tsv --out DIR` once and load DIR"
            )
        from rerank.export import cached_export

        return str(cached_export(model, format="openvino"))
    return model
