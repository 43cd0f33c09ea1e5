"""Load a cross-encoder: choose a backend, a graph file and a precision, convert the model when needed, load it.

The backends (rerank.backends) load only what they are given. The decisions live here (``plan_load`` says what
``load_model`` will do without loading anything):

1. **The model as given.** A graph file, or a directory with model.onnx / openvino_model.xml at its root, runs as
   it is: OpenVINO, then onnxruntime (``AUTO_ORDER``), except a graph quantized dynamically for onnxruntime, which
   goes to onnxruntime first (``DYNAMIC_INT8_ORDER``).
2. **Pre-converted graphs.** A directory or hub repo in the sentence-transformers layout (``onnx/model.onnx``,
   ``openvino/openvino_model.xml``, ``onnx/model_qint8_avx512_vnni.onnx``, ...; rerank.backends.layout) runs the
   best graph the installed backends and this CPU can run at the asked precision; for a hub id only that file and
   config/tokenizer are downloaded (the hub's file list is read online, the local snapshot offline). int8 files
   are taken only when int8 is asked for.
3. **Export on first use.** PyTorch weights (directory or hub id) with OpenVINO or onnxruntime installed are
   exported once into the export cache (rerank.export.cached_export, verified against PyTorch) and the export is
   loaded; an export that fails its check is refused, remembered, and the model runs on torch (a warning says
   so). ``auto_export=False`` or ``NLI_RERANK_AUTO_EXPORT=0`` turns this off. Naming ``backend="onnx"`` or
   ``"openvino"`` always exports PyTorch weights (as before); ``backend="torch"`` never does.
4. **Precision.** ``precision="auto"`` (the default) with ``backend="auto"`` runs bf16 where the chosen backend
   has it (OpenVINO; torch autocast when auto falls back to torch), the CPU has bf16 units (AMX or AVX-512 BF16,
   rerank.cpu) and bf16 passes rerank.export.precision's check against fp32 on the shipped pairs (argmax
   agreement >= 99%, max |delta p| <= 0.02), once per model and machine kind; otherwise fp32. It never picks
   int8 (a graph that is already int8 runs as int8). With a named backend, "auto" is fp32, as before.

``LoadedModel.reason`` says in one line what was chosen and why.

Example:
    >>> from rerank.loading import load_model
    >>> model = load_model("cross-encoder/nli-deberta-v3-small")  # doctest: +SKIP
    >>> model.runner.backend, model.runner.precision, model.reason  # doctest: +SKIP
    ('openvino', 'bf16', 'pre-converted openvino/openvino_model.xml from the hub; bf16: AMX bf16 units; check on ...')
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from rerank import cpu
from rerank.backends import AUTO_ORDER, BACKENDS, DYNAMIC_INT8_ORDER, LoadedModel, files, is_installed, layout
from rerank.errors import MissingDependencyError
from rerank.options import AUTO_EXPORT_ENV, PRECISIONS, auto_export_default

__all__ = ["AUTO_EXPORT_ENV", "PRECISIONS", "LoadPlan", "auto_export_default", "choose_backend", "choose_graph",
           "load_model", "plan_load"]  # fmt: skip

logger = logging.getLogger(__name__)

_EXPORT_PACKAGES = ("onnx", "onnxscript")  # the torch -> ONNX exporter, needed for either format


@dataclass(frozen=True)
class LoadPlan:
    """What load_model will do for a model, decided from file names (and a hub repo's file list).

    Attributes:
        backend: The backend that will run it.
        target: What that backend loads: the model as given, or a graph file inside it (for a hub graph, its name
            in the repo until ``hub_files`` are downloaded).
        precision: Asked of the backend: "fp32", "bf16", "int8", or "auto" (bf16 if it passes the check).
        reason: Why this backend and file, in words.
        hub_files: Hub files to download first: the chosen graph (first), its companions, config and tokenizer.
        export: "openvino" or "onnx" when PyTorch weights are exported into the export cache first.
        quantize: "int8" when that export is quantized.
    """

    backend: str
    target: str
    precision: str
    reason: str
    hub_files: tuple[str, ...] = ()
    export: str | None = None
    quantize: str | None = None


def choose_backend(model: str, *, precision: str = "fp32", device: str = "cpu") -> str:
    """The backend that runs ``model`` *as given* (no conversion): the first in AUTO_ORDER (DYNAMIC_INT8_ORDER for
    an onnxruntime dynamic-int8 graph) that is installed and can run it.

    Raises:
        MissingDependencyError: No backend is installed.
        ValueError: No installed backend can run this model at this precision on this device.

    Example:
        >>> choose_backend("path/to/nli-onnx")  # doctest: +SKIP
        'openvino'
    """
    precision = "fp32" if precision == "auto" else precision
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


def choose_graph(
    graphs: list[layout.GraphFile], precision: str, backends: list[str], info: cpu.CPUInfo | None = None
) -> tuple[str, layout.GraphFile] | None:
    """The (backend, graph) to run among pre-converted ``graphs`` with ``backends`` (in preference order) on this
    CPU at ``precision``; None when none fits.

    fp32/auto/bf16: OpenVINO runs openvino/openvino_model.xml, else onnx/model.onnx (bf16 only with bf16 units);
    onnxruntime runs onnx/model.onnx, else model_O2/O1 (O3 approximates GELU, O4 is fp16 for GPUs). int8 (only when
    asked): onnxruntime runs the dynamically quantized file made for this CPU's instruction set; OpenVINO its own
    quantized IR, else that file.
    """
    info = info or cpu.cpu_info()
    by_name = {graph.name: graph for graph in graphs}
    variants = [f"onnx/model_{variant}.onnx" for variant in cpu.int8_variants(info)]
    for backend in backends:
        if precision == "int8":
            names = {"onnx": variants, "openvino": [n for n in by_name if n.startswith("openvino/")] + variants}
            wanted = names.get(backend, [])
            wanted = [n for n in wanted if n in by_name and by_name[n].precision == "int8"]
        elif backend == "openvino" and (precision != "bf16" or cpu.bf16_units(info)):
            wanted = ["openvino/openvino_model.xml", "onnx/model.onnx"]
        elif backend == "onnx" and precision in {"auto", "fp32"}:
            wanted = ["onnx/model.onnx", "onnx/model_O2.onnx", "onnx/model_O1.onnx"]
        else:
            wanted = []
        for name in wanted:
            if name in by_name:
                return backend, by_name[name]
    return None


def _root_graph(model: str) -> bool:
    """True for a graph file, or a directory with model.onnx / openvino_model.xml at its root (runs as given)."""
    path = Path(os.path.expanduser(model))
    if path.is_file():
        return path.suffix in {".onnx", ".xml"}
    return path.is_dir() and ((path / files.ONNX_FILE).is_file() or (path / files.OPENVINO_FILE).is_file())


def _is_hub_id(model: str) -> bool:
    return not files.looks_like_path(model) and not os.path.exists(os.path.expanduser(model))


def _export_format(precision: str, backends: list[str]) -> str | None:
    """The format an automatic export makes for ``precision``, or None when no installed backend can use one."""
    if any(importlib.util.find_spec(package) is None for package in _EXPORT_PACKAGES):
        return None
    usable = {
        "onnx": {"auto", "fp32", "int8"},  # int8: only onnxruntime quantizes without calibration pairs
        "openvino": {"auto", "fp32", "bf16"} if cpu.bf16_units() else {"auto", "fp32"},
    }
    return next((backend for backend in backends if precision in usable.get(backend, set())), None)


def plan_load(
    model: str, *, backend: str = "auto", precision: str = "auto", device: str = "cpu", auto_export: bool | None = None
) -> LoadPlan:
    """What load_model will run for ``model`` (see the module docstring); reads file names only, loads nothing.

    Raises:
        ValueError: Unknown backend or precision (the message lists the valid ones).
        MissingDependencyError: A named backend is not installed, or none is.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {list(PRECISIONS)}")
    if backend != "auto" and backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {['auto', *BACKENDS]}")
    if backend != "auto":
        module_name, package, extra = BACKENDS[backend]
        if not is_installed(backend):
            raise MissingDependencyError(f"backend {backend!r} needs the {package!r} package: pip install '{extra}'")
        if precision == "auto":  # a named backend keeps its fp32 default, as before; bf16 only on request
            precision = "fp32"
        importlib.import_module(module_name).check_options(precision, device)
    if device != "cpu" or backend == "torch":
        return LoadPlan("torch", model, precision, f"torch on {device}" if device != "cpu" else "torch as asked")
    if _root_graph(model):
        chosen = backend if backend != "auto" else choose_backend(model, precision=precision, device=device)
        return LoadPlan(chosen, model, precision, "the graph as given")
    order = DYNAMIC_INT8_ORDER if precision == "int8" else AUTO_ORDER  # onnxruntime runs its own int8 files faster
    backends = [backend] if backend != "auto" else [b for b in order if b != "torch" and is_installed(b)]
    hub = _is_hub_id(model)
    if hub:
        names, where = layout.hub_files(model)
    else:
        names, where = (layout.local_files(model) if os.path.isdir(os.path.expanduser(model)) else []), "directory"
    picked = choose_graph([g for g in layout.graphs(names) if g.in_subfolder], precision, backends)
    if picked is not None:
        chosen, graph = picked
        if not hub:
            target = str(Path(os.path.expanduser(model)) / graph.name)
            return LoadPlan(chosen, target, precision, f"pre-converted {graph.name}")
        fetch = (graph.name, *layout.companions(graph, names), *layout.metadata_files(names))
        return LoadPlan(chosen, graph.name, precision, f"pre-converted {graph.name} from the hub ({where})", fetch)
    if backend != "auto":  # an explicitly named graph backend converts PyTorch weights, as before
        return LoadPlan(backend, model, precision, f"{backend} as asked")
    if (where == "none" if hub else not files.has_hf_weights(model)) and precision != "int8":
        # nothing to export (a hub id neither listed nor cached, a path without weights): torch says what is missing
        return LoadPlan("torch", model, precision, "torch (no graph and no weights found to export)")
    return _plan_pytorch(model, precision, backends, auto_export)


def _plan_pytorch(model: str, precision: str, backends: list[str], auto_export: bool | None) -> LoadPlan:
    """backend="auto" for PyTorch weights: export once for OpenVINO/onnxruntime, or run them on torch."""
    export = _export_format(precision, backends)
    enabled = auto_export_default() if auto_export is None else auto_export
    if export is not None and enabled:
        from rerank.export.cache import refusal

        quantize = "int8" if precision == "int8" else None
        refused = refusal(model, export, quantize or "fp32")
        if refused is None:
            return LoadPlan(export, model, precision, f"exported to {export} once into the export cache",
                            export=export, quantize=quantize)  # fmt: skip
        why = f"its {export} export failed its check earlier ({refused['error'][:120]})"
        retry = f"delete {files.export_cache_dir()}/*.refused.json to retry"
        return LoadPlan("torch", model, precision, f"PyTorch weights on torch: {why}; {retry}")
    if precision == "int8":  # torch has no int8: the error names what to do
        choose_backend(model, precision=precision)
    if export is None:
        why = "no onnxruntime or OpenVINO (with onnx and onnxscript to export) installed for this precision"
    else:
        why = "automatic export is off (auto_export=False or NLI_RERANK_AUTO_EXPORT=0)"
    return LoadPlan("torch", model, precision, f"PyTorch weights on torch: {why}")


def load_model(
    model: str,
    *,
    backend: str = "auto",
    precision: str = "auto",
    device: str = "cpu",
    threads: int | None = None,
    auto_export: bool | None = None,
    show_progress: bool = True,
) -> LoadedModel:
    """Load a cross-encoder: the best pre-converted graph, an export made once, or the weights (see the module).

    Args:
        model: Hub id, a directory (PyTorch weights, model.onnx, openvino_model.xml, or the sentence-transformers
            layout with onnx/ and openvino/ folders) or a graph file.
        backend: "auto" or a key of rerank.backends.BACKENDS.
        precision: "auto" (bf16 where the CPU has bf16 units and bf16 passes the check, else fp32), "fp32",
            "bf16" or "int8" (what each backend accepts is in docs/fast_inference.md).
        device: "cpu", or a torch device for backend="torch".
        threads: Intra-op threads, or None for the backend's default.
        auto_export: Export PyTorch weights once for OpenVINO/onnxruntime when backend="auto"; None reads
            ``NLI_RERANK_AUTO_EXPORT`` (on unless it is 0).
        show_progress: Show bars while exporting and checking (first use only).

    Returns:
        The loaded model; ``source`` is ``model`` as given, even when a cached conversion was loaded, and
        ``reason`` says what runs and why.

    Raises:
        ValueError: Unknown backend name (the message lists the valid ones), or a precision/device it cannot run.
        MissingDependencyError: The backend's package is not installed (the message names the pip extra).
        ModelLoadError: The model cannot be found or read.

    Example:
        >>> load_model("cross-encoder/nli-deberta-v3-small", backend="onnx")  # doctest: +SKIP
    """
    plan = plan_load(model, backend=backend, precision=precision, device=device, auto_export=auto_export)
    target = plan.target
    if plan.hub_files:
        fetched = layout.fetch_hub_files(model, plan.hub_files)
        target = str(fetched[plan.hub_files[0]])
    elif plan.export:
        exported = _export(model, plan.export, plan.quantize, show_progress)
        if exported is None:
            plan = LoadPlan("torch", model, precision, "torch: the automatic export failed (see the warning above)")
        target = exported or model
    else:
        target = _runnable(target, plan.backend, plan.precision)
    loaded = _load_at_precision(plan.backend, target, plan.precision, device, threads, show_progress)
    if precision == "auto" and backend != "auto":
        detail = f"{loaded.runner.precision} (auto precision with a named backend is fp32, as before)"
    else:
        detail = loaded.reason
    reason = f"{plan.reason}; {detail}" if detail else plan.reason
    fingerprint = _source_fingerprint(model, target, loaded, bool(plan.hub_files))
    return dataclasses.replace(loaded, source=model, reason=reason, fingerprint=fingerprint)


def _source_fingerprint(model: str, target: str, loaded: LoadedModel, from_hub: bool) -> str:
    """The fingerprint of the model as given: a hub id's snapshot commit for a graph fetched from its repo, the
    source's for an export the cache made from it (its manifest says so), else the loaded graph's or weights'."""
    if target == model:
        return loaded.fingerprint
    if from_hub:
        from rerank.backends.fingerprint import hub_fingerprint

        return hub_fingerprint(model) or loaded.fingerprint
    manifest = loaded.extra.get("manifest") or {}
    if manifest.get("source") == model and isinstance(manifest.get("source_fingerprint"), str):
        return manifest["source_fingerprint"]
    return loaded.fingerprint


def _export(model: str, format: str, quantize: str | None, show_progress: bool) -> str | None:
    """The cached export of ``model``, or None (with a warning, and remembered) when it failed its check."""
    from rerank.export import ExportError, cached_export
    from rerank.export.cache import remember_refusal

    try:
        return str(cached_export(model, format=format, quantize=quantize, show_progress=show_progress))
    except ExportError as error:
        remember_refusal(model, format, quantize or "fp32", error)
        logger.warning("the %s export of %s was refused (%s); running it on torch instead", format, model, error)
    except (MissingDependencyError, ImportError) as error:
        logger.warning("could not export %s to %s (%s); running it on torch instead", model, format, error)
    return None


def _runnable(model: str, backend: str, precision: str) -> str:
    """What an explicitly named ``backend`` loads for ``model``: the model itself, or a cached export / int8 copy."""
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


def _load_at_precision(
    backend: str, target: str, precision: str, device: str, threads: int | None, show_progress: bool
) -> LoadedModel:
    """Load ``target`` with ``backend``; "auto" precision is bf16 when the CPU has bf16 units and bf16 passes the
    check against fp32 (kept per model and machine kind), else fp32. ``reason`` says which and why."""
    module = importlib.import_module(BACKENDS[backend][0])
    if precision != "auto":
        module.check_options(precision, device)
        loaded = module.load(target, precision=precision, device=device, threads=threads)
        return dataclasses.replace(loaded, reason=f"{loaded.runner.precision} as asked")
    units = cpu.bf16_units()
    if device != "cpu":
        why_fp32 = f"fp32 (auto precision on {device})"
    elif backend == "onnx":
        why_fp32 = "fp32 (auto: onnxruntime has no bf16 CPU kernels)"
    elif units is None:
        why_fp32 = f"fp32 (auto: no bf16 units on this CPU; it has {cpu.cpu_info().summary()})"
    elif backend == "openvino" and not module.cpu_supports_bf16():
        why_fp32 = "fp32 (auto: OpenVINO reports no bf16 support on this CPU)"
    else:
        why_fp32 = ""
    if why_fp32 or units is None:
        loaded = module.load(target, precision="fp32", device=device, threads=threads)
        if loaded.runner.precision == "int8":
            why_fp32 = "int8 (the graph is quantized; it runs as it is)"
        return dataclasses.replace(loaded, reason=why_fp32)
    return _load_checked_bf16(module, backend, target, device, threads, units, show_progress)


def _weights_fingerprint(backend: str, target: str) -> tuple[str | None, Path | None]:
    """(fingerprint, directory holding the graph) of what ``backend`` will load, without loading it."""
    from rerank.backends.fingerprint import graph_fingerprint, hub_fingerprint, weights_fingerprint

    if backend == "torch":
        expanded = os.path.expanduser(target)
        return (weights_fingerprint(expanded) if os.path.isdir(expanded) else hub_fingerprint(target)), None
    graph = files.find_onnx(target)
    if backend == "openvino":
        graph = files.find_openvino(target) or graph
    if graph is None:
        return None, None
    return graph_fingerprint(graph), files.model_directory(graph)


def _load_checked_bf16(
    module, backend: str, target: str, device: str, threads: int | None, units: str, show_progress: bool
) -> LoadedModel:
    """bf16 if the kept verdict (or a new check on the shipped pairs) says it keeps fp32's answers, else fp32."""
    from rerank.export import precision as check

    key = check.verdict_key(backend)
    fingerprint, directory = _weights_fingerprint(backend, target)
    verdict = check.read_verdict(fingerprint, key, directory) if fingerprint else None
    if verdict is not None:
        loaded = module.load(target, precision=verdict["precision"], device=device, threads=threads)
        return dataclasses.replace(loaded, reason=_bf16_reason(verdict, units, kept=True))
    fp32 = module.load(target, precision="fp32", device=device, threads=threads)
    if fp32.runner.precision == "int8":
        return dataclasses.replace(fp32, reason="int8 (the graph is quantized; it runs as it is)")
    if backend == "torch":
        from rerank.backends.torch_backend import TorchRunner

        runner = fp32.runner
        if not isinstance(runner, TorchRunner):
            raise TypeError(f"the torch backend returned a {type(runner).__name__}, not a TorchRunner")
        bf16 = dataclasses.replace(fp32, runner=TorchRunner(runner.module, "bf16", runner.input_names))
    else:
        bf16 = module.load(target, precision="bf16", device=device, threads=threads)
    logger.info("checking bf16 against fp32 for %s on %s (once per model and machine kind)", target, backend)
    verdict = check.run_check(fp32.runner, bf16.runner, fp32.tokenizer, backend=backend,
                              max_length=fp32.max_positions, show_progress=show_progress)  # fmt: skip
    check.write_verdict(fp32.fingerprint, key, verdict, directory)
    if not verdict["passed"]:
        logger.warning("%s: bf16 moved answers beyond the bar (%s); running fp32", target, check.describe(verdict))
    chosen = bf16 if verdict["passed"] else fp32
    return dataclasses.replace(chosen, reason=_bf16_reason(verdict, units, kept=False))


def _bf16_reason(verdict: dict, units: str, *, kept: bool) -> str:
    from rerank.export.precision import describe

    when = f", kept from {verdict.get('checked', '?')}" if kept else ""
    return f"{verdict['precision']} (auto: {units} bf16 units; {describe(verdict)}{when})"
