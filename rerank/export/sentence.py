"""Export a sentence-transformers bi-encoder (transformer + pooling) to ONNX or OpenVINO, for the same backends.

The graph takes the tokenizer's arrays and returns the pooled sentence embedding, shape (batch, dimension),
computed by the model's own sentence-transformers Pooling module (mean, CLS, max, ... as its 1_Pooling/config.json
says). To the backends' runners and the length-sorted batching (rerank.batching) it is a model with ``dimension``
outputs, so they run it unchanged. Normalisation (a Normalize module) is applied by ``embed`` after the graph; the
manifest's ``"sentence"`` entry records whether the model has one, its max_seq_length and its prompts, so an
export directory is loaded without sentence-transformers.

Supported: models whose modules are a Transformer, a Pooling and optionally a Normalize (most sentence-transformers
bi-encoders, all-MiniLM-L6-v2 among them). Others raise UnsupportedEncoderError; they run on sentence-transformers.

Every export is checked against ``SentenceTransformer.encode`` on ``check_texts`` (the shipped check pairs' texts
and a text longer than max_seq_length): an export whose embeddings deviate by more than ``EXPORT_TOLERANCE`` in
``1 - cosine`` is refused (ExportError) and nothing is written.

Example:
    >>> export_sentence_encoder("path/to/all-MiniLM-L6-v2", "minilm-openvino", format="openvino")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rerank.backends import files
from rerank.backends.base import LoadedModel
from rerank.batching import EncodedPairs, run_batches
from rerank.errors import ModelLoadError
from rerank.export import manifest as manifests
from rerank.export import staging
from rerank.export.errors import ExportError
from rerank.shared_tokenizer import tokenize

__all__ = ["EXPORT_TOLERANCE", "SENTENCE_KIND", "UnsupportedEncoderError", "cached_sentence_export", "check_texts",
           "cosine_deviation", "embed", "export_sentence_encoder", "sentence_settings"]  # fmt: skip

logger = logging.getLogger(__name__)

SENTENCE_KIND = "sentence-embedding"  # the manifest's "kind" of a bi-encoder export
EXPORT_TOLERANCE = 1e-5  # largest 1 - cosine to SentenceTransformer.encode accepted for an fp32 export
SUPPORTED_MODULES = ("Transformer", "Pooling", "Normalize")
EXPORT_STEPS = 4
RECIPE = "eager-attention"  # part of the export cache key: a new recipe makes new entries
_CONFIG_FILES = ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
                 "1_Pooling/config.json")  # fmt: skip


class UnsupportedEncoderError(ValueError):
    """The bi-encoder has modules other than Transformer, Pooling and Normalize (or lowercases its input)."""


def check_texts(limit: int | None = None) -> list[str]:
    """Texts an encoder export or precision is checked on: the shipped check pairs' premises and hypotheses (varied
    lengths and languages), one text longer than any max_seq_length, and an empty one; ``limit`` caps the pairs."""
    from rerank.export.check_pairs import check_pairs

    pairs = check_pairs(limit=limit)
    texts = [text for pair in pairs for text in pair]
    texts.append(" ".join(premise for premise, _ in pairs[:40]))
    texts.append("")
    return list(dict.fromkeys(texts))


def cosine_deviation(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """``1 - cos(reference[i], candidate[i])`` per row, in float64 (0 for two zero vectors)."""
    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(candidate, dtype=np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    dots = (a * b).sum(axis=1)
    return np.where(norms > 0, np.maximum(1.0 - dots / np.where(norms > 0, norms, 1.0), 0.0), 0.0)


def sentence_settings(encoder: Any) -> dict[str, Any]:
    """What running ``encoder`` (a SentenceTransformer) needs besides its graph: dimension, max_seq_length,
    normalize, pooling, prompts (the manifest's ``"sentence"`` entry).

    Raises:
        UnsupportedEncoderError: A module other than Transformer, Pooling, Normalize, or lowercased input.
    """
    kinds = [type(module).__name__ for module in encoder]
    if kinds[:2] != ["Transformer", "Pooling"] or any(kind not in SUPPORTED_MODULES for kind in kinds[2:]):
        raise UnsupportedEncoderError(
            f"the bi-encoder's modules are {kinds}; the export supports Transformer, Pooling and optionally Normalize"
        )
    transformer, pooling = encoder[0], encoder[1]
    if getattr(transformer, "do_lower_case", False):
        raise UnsupportedEncoderError("the bi-encoder lowercases its input (do_lower_case); run it on torch")
    prompts = {str(k): str(v) for k, v in (getattr(encoder, "prompts", None) or {}).items() if v}
    if prompts and not getattr(pooling, "include_prompt", True):
        raise UnsupportedEncoderError("the bi-encoder pools without its prompt tokens (include_prompt=False)")
    dimension = encoder.get_embedding_dimension() if hasattr(encoder, "get_embedding_dimension") else None
    return {
        "dimension": int(dimension or encoder.get_sentence_embedding_dimension()),
        "max_seq_length": int(encoder.max_seq_length),
        "normalize": "Normalize" in kinds,
        "pooling": pooling.get_config_dict(),
        "prompts": prompts,
        "default_prompt_name": getattr(encoder, "default_prompt_name", None),
    }


def embed(
    loaded: LoadedModel,
    texts: Sequence[str],
    *,
    max_length: int,
    normalize: bool,
    batch_size: int = 32,
    show_progress: bool = False,
) -> np.ndarray:
    """Embeddings (n, dimension) of ``texts`` through a loaded bi-encoder graph: tokenised once (truncated to
    ``max_length`` tokens), run in length-sorted batches, L2-normalised when ``normalize``."""
    if not texts:
        return np.zeros((0, loaded.num_logits), dtype=np.float32)
    tokenizer = loaded.tokenizer
    encoded = tokenize(tokenizer, list(texts), truncation=True, max_length=max_length)
    pairs = EncodedPairs(encoded["input_ids"], encoded.get("token_type_ids"), np.zeros(len(texts), dtype=bool))
    vectors = run_batches(pairs, loaded.runner, input_names=loaded.runner.input_names,
                          pad_token_id=tokenizer.pad_token_id or 0, batch_size=batch_size,
                          show_progress=show_progress, description="encoding")  # fmt: skip
    if normalize:
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors


def _pooled_module(encoder: Any):
    import torch

    transformer, pooling = encoder[0].auto_model.eval(), encoder[1].eval()

    class PooledEmbedding(torch.nn.Module):
        """Keyword inputs in, the pooled sentence embedding out: the signature the exporter traces."""

        def __init__(self):
            super().__init__()
            self.transformer, self.pooling = transformer, pooling

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                inputs["token_type_ids"] = token_type_ids
            tokens = self.transformer(**inputs).last_hidden_state
            return self.pooling({"token_embeddings": tokens, "attention_mask": attention_mask})["sentence_embedding"]

    return PooledEmbedding().eval()


def load_source(model: str) -> Any:
    """The SentenceTransformer at ``model`` (hub id or directory) on the CPU.

    Raises:
        ModelLoadError: It cannot be found or read.
    """
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(os.path.expanduser(model), device="cpu")
    except Exception as error:  # the hub client, transformers and torch raise many types here
        raise ModelLoadError(f"cannot load the bi-encoder {model!r} ({type(error).__name__}: {error})") from error


def export_sentence_encoder(
    model: str,
    out: str | Path,
    *,
    format: str = "onnx",
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Export a sentence-transformers bi-encoder to ``out`` (graph, config.json, tokenizer, manifest.json).

    Args:
        model: Hub id or directory of a SentenceTransformer.
        out: Directory to create (absent or empty, or an earlier export with ``overwrite``).
        format: "onnx" (model.onnx) or "openvino" (openvino_model.xml + .bin); both fp32.
        overwrite: Replace an earlier export at ``out``.
        progress: Called with the name of each step as it starts (EXPORT_STEPS of them).

    Raises:
        ValueError: Unknown format.
        UnsupportedEncoderError: The model has modules the graph cannot hold.
        ExportError: The exporter failed, or the export deviates from SentenceTransformer.encode.
    """
    from rerank.export import _check_arguments
    from rerank.export.graph import OPSET, export_onnx_graph
    from rerank.export.openvino import write_openvino

    _check_arguments(format, None, None)
    step = progress or (lambda name: None)
    out = Path(out).expanduser()
    staging.check_destination(out, overwrite)
    step("loading the source model")
    encoder = load_source(model)
    settings = sentence_settings(encoder)
    tokenizer = encoder.tokenizer
    names = {"input_ids", "attention_mask", "token_type_ids"}
    input_names = tuple(name for name in tokenizer.model_input_names if name in names)
    texts = check_texts()
    reference = np.asarray(encoder.encode(texts, batch_size=16, convert_to_numpy=True, show_progress_bar=False))
    attention = _eager_attention(encoder[0].auto_model)
    with staging.staging_directory(out) as work:
        built = work / "export"
        built.mkdir()
        onnx_path = (work / files.ONNX_FILE) if format != "onnx" else built / files.ONNX_FILE
        step("exporting the ONNX graph")
        export_onnx_graph(encoder[0].auto_model, tokenizer, input_names, onnx_path, opset=OPSET,
                          module=_pooled_module(encoder), output_name="sentence_embedding")  # fmt: skip
        step(f"writing the {format} graph")
        if format == "openvino":
            write_openvino(onnx_path, built, tokenizer, input_names, None, None)
        config = json.loads(encoder[0].auto_model.config.to_json_string())
        (built / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tokenizer.save_pretrained(str(built))
        step(f"checking it against SentenceTransformer.encode on {len(texts)} texts")
        check = _check(built, format, settings, texts, reference)
        manifests.write_manifest(built, {
            "kind": SENTENCE_KIND, "format": format, "precision": "fp32", "quantization": None, "source": model,
            "source_fingerprint": _source_key(model), "architecture": type(encoder[0].auto_model).__name__,
            "exporter": "torch.onnx.export(dynamo=True) of the transformer and sentence-transformers Pooling",
            "attention": attention,
            "opset": OPSET, "inputs": list(input_names), "sentence": settings, "verification": check,
            "versions": manifests.package_versions("sentence-transformers", *manifests.VERSIONED_PACKAGES),
            "created": manifests.created_now(),
        })  # fmt: skip
        staging.move_into_place(built, out, overwrite)
    logger.info("exported %s to %s (%s; max 1 - cos %.1e)", model, out, format, check["max_cosine_deviation"])
    return out


def _eager_attention(hf_model) -> str:
    """Trace plain (eager) attention where the model offers it: torch's SDPA is exported as softmax guarded by
    IsNaN/Select, which OpenVINO runs op by op; eager attention it fuses into one kernel (bf16, MiniLM-L6, 32 x 256
    tokens: 1.15 s against 1.43 s a batch). The check against the SDPA reference below still applies."""
    setter = getattr(hf_model, "set_attn_implementation", None)
    if setter is None:
        return str(getattr(hf_model.config, "_attn_implementation", "default"))
    try:
        setter("eager")
    except (ValueError, ImportError, NotImplementedError) as error:
        logger.info("keeping %s attention for the export (%s)", hf_model.config._attn_implementation, error)
    return str(hf_model.config._attn_implementation)


def _check(built: Path, format: str, settings: dict[str, Any], texts: list[str], reference) -> dict[str, Any]:
    import importlib

    from rerank.backends import BACKENDS

    loaded = importlib.import_module(BACKENDS[format][0]).load(str(built), precision="fp32")
    got = embed(loaded, texts, max_length=settings["max_seq_length"], normalize=settings["normalize"])
    deviation = float(cosine_deviation(reference, got).max())
    if deviation > EXPORT_TOLERANCE:
        raise ExportError(
            f"the exported {format} bi-encoder deviates from SentenceTransformer.encode by 1 - cos = {deviation:.2e} "
            f"(tolerance {EXPORT_TOLERANCE}); nothing was written"
        )
    return {"texts": len(texts), "max_cosine_deviation": deviation,
            "max_abs_diff": float(np.abs(got - reference).max())}  # fmt: skip


def _source_key(model: str) -> str | None:
    """The export cache key of ``model``: its weights' fingerprint and its sentence-transformers config files."""
    from rerank.export.cache import source_fingerprint

    fingerprint = source_fingerprint(model)
    if fingerprint is None:
        return None
    digest = hashlib.sha256()
    directory = Path(os.path.expanduser(model))
    for name in _CONFIG_FILES if directory.is_dir() else ():
        path = directory / name
        digest.update(name.encode() + (path.read_bytes() if path.is_file() else b"-"))
    return f"{SENTENCE_KIND}:{RECIPE}:{fingerprint}:{digest.hexdigest()[:16]}"


def cached_sentence_export(model: str, *, format: str, show_progress: bool = False) -> Path:
    """The export of the bi-encoder ``model`` in the export cache (rerank.export.cache), made and checked once.

    Raises:
        UnsupportedEncoderError, ExportError: As ``export_sentence_encoder`` (nothing is kept).
    """
    from tqdm.auto import tqdm

    from rerank.export.cache import _entry, _publish

    key = _source_key(model)
    if key is not None:
        target = _entry(model, key, format, "fp32")
        if (target / "manifest.json").is_file():
            return target
    cache = files.export_cache_dir()
    logger.warning("exporting the bi-encoder %s into %s once (%s); later loads reuse it", model, cache, format)
    cache.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=EXPORT_STEPS, desc=f"exporting the bi-encoder to {format} once", unit="step",
               disable=not show_progress)  # fmt: skip

    def step(name: str) -> None:
        logger.info("export of %s: %s", model, name)
        bar.set_postfix_str(name)
        bar.update(1)

    with bar, tempfile.TemporaryDirectory(dir=cache, prefix=".export-") as scratch:
        built = export_sentence_encoder(model, Path(scratch) / "export", format=format, progress=step)
        key = key or files.read_manifest(built)["source_fingerprint"] or f"{SENTENCE_KIND}:{model}"
        target = _entry(model, key, format, "fp32")
        if not (target / "manifest.json").is_file():
            _publish(built, target)
        elif built.exists():
            shutil.rmtree(built, ignore_errors=True)
    return target
