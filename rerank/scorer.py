"""Machinery shared by every cross-encoder reranker: model loading, pair validation, batching, truncation count."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from rerank.backends import LoadedModel, load_model
from rerank.batching import encode_pairs, run_batches
from rerank.validation import check_positive_int

__all__ = ["CrossEncoderScorer"]

logger = logging.getLogger(__name__)

# A token covers at most a few dozen characters of real text, so longer premises are cut before tokenising:
# this keeps a multi-megabyte document from costing seconds when only max_length tokens will be read anyway.
CHARS_PER_TOKEN_BOUND = 32


class CrossEncoderScorer:
    """Loads a cross-encoder once and turns (premise, hypothesis) pairs into raw logits.

    Attributes:
        model: The LoadedModel (tokenizer, runner, labels).
        truncated_pairs: Running count of pairs whose premise was cut to fit max_length.
    """

    def __init__(
        self,
        model: str | LoadedModel,
        *,
        batch_size: int = 32,
        max_length: int = 512,
        device: str = "cpu",
        threads: int | None = None,
        backend: str = "auto",
        precision: str = "fp32",
        show_progress: bool = True,
    ):
        self.batch_size = check_positive_int("batch_size", batch_size)
        max_length = check_positive_int("max_length", max_length)
        if isinstance(model, LoadedModel):
            self.model = model
        elif isinstance(model, str) and model.strip():
            self.model = load_model(model, backend=backend, precision=precision, device=device, threads=threads)
        else:
            raise TypeError(f"model must be a hub id or a directory path (non-empty str), got {model!r}")
        if self.model.max_positions and max_length > self.model.max_positions:
            logger.warning("max_length %d exceeds the model's %d positions; using %d", max_length,
                           self.model.max_positions, self.model.max_positions)
            max_length = self.model.max_positions
        self.max_length = max_length
        self.show_progress = show_progress
        self.truncated_pairs = 0

    @property
    def backend(self) -> str:
        return self.model.runner.backend

    @property
    def precision(self) -> str:
        return self.model.runner.precision

    def logits(self, passages: Sequence[str], queries: Sequence[str], *, query_first: bool = False) -> np.ndarray:
        """Raw logits (n, num_logits) for (passage, query) pairs, in input order; no model call for an empty list.

        The model reads (passage, query) unless ``query_first``; only the passage is ever truncated.
        """
        if len(passages) != len(queries):
            raise ValueError(f"got {len(passages)} passages but {len(queries)} queries")
        if not passages:
            return np.empty((0, self.model.num_logits), dtype=np.float32)
        limit = self.max_length * CHARS_PER_TOKEN_BOUND
        cut = [passage[:limit] for passage in passages]
        encoded = encode_pairs(self.model.tokenizer, cut, queries, self.max_length, query_first=query_first)
        truncated = int((encoded.truncated | np.array([len(p) > limit for p in passages])).sum())
        if truncated:
            self.truncated_pairs += truncated
            logger.warning("%d of %d passages were truncated to max_length=%d tokens", truncated, len(passages),
                           self.max_length)
        return run_batches(
            encoded,
            self.model.runner,
            input_names=self.model.runner.input_names,
            pad_token_id=self.model.tokenizer.pad_token_id or 0,
            batch_size=self.batch_size,
            show_progress=self.show_progress,
        )
