"""What a model directory holds, found from file names alone (no heavy imports), and the pieces read from it.

A directory is one of three formats: Hugging Face weights (config.json + model.safetensors / pytorch_model.bin),
an ONNX graph (model.onnx, optionally with config.json) or an OpenVINO IR (openvino_model.xml + .bin). The exported
ones carry the tokenizer files and a manifest.json saying how they were made (see rerank.export).

This module sits at the bottom of the backends: it imports no backend, and nothing from rerank.export or
rerank.loading.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from rerank.backends.base import LoadedModel
from rerank.errors import ModelLoadError

__all__ = [
    "ONNX_FILE",
    "OPENVINO_FILE",
    "export_cache_dir",
    "find_onnx",
    "find_openvino",
    "has_hf_weights",
    "is_dynamic_int8_onnx",
    "load_tokenizer",
    "loaded_from_graph",
    "looks_like_path",
    "model_not_found",
    "read_config",
    "read_manifest",
]

logger = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
OPENVINO_FILE = "openvino_model.xml"
HF_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "spm.model", "sentencepiece.bpe.model")
CACHE_ENV = "NLI_RERANK_CACHE"


def _directory(model: str | Path) -> Path | None:
    path = Path(os.path.expanduser(str(model)))
    return path if path.is_dir() else None


def find_onnx(model: str | Path) -> Path | None:
    """The ONNX graph of ``model``: the file itself, DIR/model.onnx or DIR/onnx/model.onnx; None when there is none."""
    path = Path(os.path.expanduser(str(model)))
    if path.is_file() and path.suffix == ".onnx":
        return path
    directory = _directory(model)
    if directory is None:
        return None
    for candidate in (directory / ONNX_FILE, directory / "onnx" / ONNX_FILE):
        if candidate.is_file():
            return candidate
    return None


def find_openvino(model: str | Path) -> Path | None:
    """The OpenVINO IR (.xml) of ``model``: the file itself, DIR/openvino_model.xml or DIR/openvino/openvino_model.xml;
    None when there is none."""
    path = Path(os.path.expanduser(str(model)))
    if path.is_file() and path.suffix == ".xml":
        return path
    directory = _directory(model)
    if directory is None:
        return None
    for candidate in (directory / OPENVINO_FILE, directory / "openvino" / OPENVINO_FILE):
        if candidate.is_file():
            return candidate
    return None


def has_hf_weights(model: str | Path) -> bool:
    """True for a directory with PyTorch/SafeTensors weights."""
    directory = _directory(model)
    return directory is not None and any((directory / name).is_file() for name in HF_WEIGHT_FILES)


# Operators of onnxruntime's dynamic quantization (quantize_dynamic): activations are quantized at run time.
DYNAMIC_INT8_OPS = frozenset({"MatMulInteger", "DynamicQuantizeLinear", "ConvInteger"})


def is_dynamic_int8_onnx(graph: Path) -> bool:
    """True for an ONNX graph quantized dynamically for onnxruntime (False when the onnx package is missing).

    Only the graph structure is read (no external weight files), which takes a fraction of a second.
    """
    if graph.suffix != ".onnx":
        return False
    try:
        import onnx
    except ImportError:
        return False
    try:
        proto = onnx.load(str(graph), load_external_data=False)
    except Exception:  # a damaged file is reported by the backend that loads it, with the fix
        return False
    return any(node.op_type in DYNAMIC_INT8_OPS for node in proto.graph.node)


def model_directory(graph: Path) -> Path:
    """The directory holding a graph's tokenizer and config (the parent of the onnx/ or openvino/ folder of the
    sentence-transformers layout)."""
    parent = graph.parent
    if parent.name in {"onnx", "openvino"} and not any((parent / name).is_file() for name in TOKENIZER_FILES):
        return parent.parent
    return parent


def read_config(directory: Path) -> dict[str, Any]:
    """config.json as a dict, or {} when the directory has none."""
    path = directory / "config.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"could not read {path}: {error}") from error


def read_manifest(directory: Path) -> dict[str, Any]:
    """manifest.json written by rerank.export, or {} for a directory exported by something else."""
    path = directory / "manifest.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        logger.warning("ignoring unreadable %s", path)
        return {}


def config_labels(config: dict[str, Any]) -> dict[int, str]:
    """id2label from a config dict, keys as ints; {} when absent."""
    return {int(k): str(v) for k, v in (config.get("id2label") or {}).items()}


def max_positions(config: dict[str, Any], tokenizer: Any) -> int | None:
    """The longest input: the config's max_position_embeddings, else a plausible tokenizer model_max_length."""
    if config.get("max_position_embeddings"):
        return int(config["max_position_embeddings"])
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if isinstance(limit, int) and 0 < limit < 1_000_000 else None


def load_tokenizer(directory: Path) -> Any:
    """The directory's Hugging Face tokenizer (fast when tokenizer.json is present).

    Raises:
        ModelLoadError: No tokenizer files, or they cannot be read.
    """
    if not any((directory / name).is_file() for name in TOKENIZER_FILES):
        raise ModelLoadError(
            f"{directory} has a model graph but no tokenizer (looked for {', '.join(TOKENIZER_FILES)}); copy the "
            "tokenizer files of the original model beside it, or re-export with `rerank export`"
        )
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(directory))
    except (OSError, ValueError, TypeError) as error:
        raise ModelLoadError(f"could not load the tokenizer in {directory}: {error}") from error


def export_cache_dir() -> Path:
    """Where models exported on demand (backend="onnx"/"openvino" given PyTorch weights) are kept.

    ``$NLI_RERANK_CACHE`` when set, else ``$XDG_CACHE_HOME/nli-rerank`` or ``~/.cache/nli-rerank``.
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nli-rerank"


def looks_like_path(model: str) -> bool:
    """True for what can only be a filesystem path (a hub id is "name" or "org/name")."""
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model


def model_not_found(model: str, reason: Exception | str) -> ModelLoadError:
    """The error for a model that is neither a readable directory nor loadable from the hub or its cache."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}
    where = "the local Hugging Face cache (HF_HUB_OFFLINE is set)" if offline else "the Hugging Face hub or its cache"
    return ModelLoadError(
        f"could not load model {model!r}: not a local directory, and not found in {where} ({reason}). "
        "Pass a local model directory instead (NLIReranker(model='path/to/model'), or --model PATH on the "
        f"command line), or download it once with network access: huggingface-cli download {model}"
    )


def check_exportable(model: str, wanted: str) -> None:
    """Raise unless ``model`` is a hub id or a directory of PyTorch weights (what rerank.export can convert).

    Raises:
        ModelLoadError: A path that does not exist, or a directory with neither ``wanted`` nor weights.
    """
    expanded = os.path.expanduser(model)
    if os.path.isdir(expanded):
        if not has_hf_weights(expanded):
            raise ModelLoadError(
                f"{model!r} holds neither {wanted} nor PyTorch/SafeTensors weights (looked for "
                f"{', '.join(HF_WEIGHT_FILES)}); point at a model directory, or create one with `rerank export MODEL "
                "--out DIR`"
            )
    elif looks_like_path(model) or os.path.isfile(expanded):
        raise model_not_found(model, "no such directory")


def no_graph(model: str, backend: str, wanted: str, fmt: str) -> ModelLoadError:
    """The error of a graph backend given something that is not a graph (it loads graphs as given, never converts)."""
    return ModelLoadError(
        f"{model!r} holds no {wanted}; the {backend} backend runs graphs as given. Export one with `rerank export "
        f"{model} --format {fmt} --out DIR`, or load it with rerank.loading.load_model(..., backend={backend!r}), "
        "which exports PyTorch weights once into a cache"
    )


def loaded_from_graph(
    model: str,
    graph: Path,
    runner,
    num_logits: int,
    *,
    fingerprint: str,
    device: str,
    threads: int | None,
) -> LoadedModel:
    """The LoadedModel for a graph file, its tokenizer and optional config (in the graph's model_directory)."""
    directory = model_directory(graph)
    config = read_config(directory)
    tokenizer = load_tokenizer(directory)
    id2label = config_labels(config)
    if id2label and len(id2label) != num_logits:
        logger.warning(
            "%s: config.json names %d labels but the graph has %d logits; ignoring its id2label",
            directory,
            len(id2label),
            num_logits,
        )
        id2label = {}
    tokenizer_inputs = set(tokenizer.model_input_names) | {"input_ids", "attention_mask"}
    unknown = [name for name in runner.input_names if name not in tokenizer_inputs | {"token_type_ids"}]
    if unknown:
        raise ModelLoadError(
            f"{graph} takes inputs {unknown} that a tokenizer does not produce; expected input_ids, "
            "attention_mask and optionally token_type_ids"
        )
    return LoadedModel(
        source=model,
        tokenizer=tokenizer,
        num_logits=num_logits,
        id2label=id2label,
        max_positions=max_positions(config, tokenizer),
        runner=runner,
        fingerprint=fingerprint,
        extra={"graph": str(graph), "manifest": read_manifest(directory)},
        device=device,
        threads=threads,
    )
