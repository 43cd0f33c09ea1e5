"""The protocol every inference backend implements, and the bundle a backend loader returns.

A backend turns a padded batch of token arrays into raw logits. Tokenisation, batching, softmax and label
mapping happen once, in the reranker, so every backend gives answers that differ only by its arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["BatchRunner", "LoadedModel"]


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
        fingerprint: Identity of the weights, for cache keys: a hash of the bytes of the files that define the
            model, or ``hub:org/name@<commit>`` for a hub id (see rerank.backends.fingerprint).
        extra: Backend details (the graph file and its manifest for exported models).
        device: The device it was loaded for ("cpu", "cuda", ...), as asked.
        threads: The intra-op thread count it was loaded with, or None for the backend's default.
        reason: Why this backend and precision run, in one line, e.g. "openvino bf16: AMX bf16 units; check on
            300 pairs: argmax agreement 99.67%, max |dp| 0.0081" (set by rerank.loading; "" when loaded directly).
    """

    source: str
    tokenizer: Any
    num_logits: int
    id2label: dict[int, str]
    max_positions: int | None
    runner: BatchRunner
    fingerprint: str
    extra: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    threads: int | None = None
    reason: str = ""
