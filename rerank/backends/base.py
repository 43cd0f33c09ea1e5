"""The protocol every inference backend implements, and the bundle a backend loader returns.

A backend turns a padded batch of token arrays into raw logits. Tokenisation, batching, softmax and label
mapping happen once, in the reranker, so every backend gives answers that differ only by its arithmetic.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["BatchRunner", "LoadedModel", "directory_fingerprint"]


@runtime_checkable
class BatchRunner(Protocol):
    """Runs one padded batch through a model.

    Attributes:
        backend: "torch", "onnx" or "openvino".
        precision: "fp32", "bf16" or "int8".
        input_names: The tokenizer outputs the model takes (some exported graphs drop token_type_ids).
    """

    backend: str
    precision: str
    input_names: tuple[str, ...]

    def __call__(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """Return float32 logits of shape (batch, num_logits) for int64 arrays of shape (batch, length)."""
        ...


@dataclass
class LoadedModel:
    """What a backend loader returns: the runner plus what the reranker needs to feed and read it.

    Attributes:
        source: The hub id or directory the user asked for.
        tokenizer: A Hugging Face tokenizer (fast when available).
        num_logits: Width of the model's output.
        id2label: Label names by logit position, from the model config (empty when the model has no config).
        max_positions: Longest input the model accepts, or None when unknown.
        runner: The backend's batch runner.
        fingerprint: Stable identity of the weights, for cache keys.
    """

    source: str
    tokenizer: Any
    num_logits: int
    id2label: dict[int, str]
    max_positions: int | None
    runner: BatchRunner
    fingerprint: str
    extra: dict[str, Any] = field(default_factory=dict)


def directory_fingerprint(directory: str | Path, source: str) -> str:
    """Hash of a model directory's config and the names and sizes of its files (cheap, no weight reading)."""
    directory = Path(directory)
    digest = hashlib.sha256(source.encode())
    if directory.is_dir():
        entries = sorted((p.name, p.stat().st_size) for p in directory.iterdir() if p.is_file())
        digest.update(json.dumps(entries).encode())
        config = directory / "config.json"
        if config.is_file():
            digest.update(config.read_bytes())
    return digest.hexdigest()[:16]
