"""Machinery shared by every cross-encoder reranker: model loading, batching, the logit cache, truncation count."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from rerank.backends import LoadedModel
from rerank.batching import encode_pairs, run_batches
from rerank.cache import ScoreCache
from rerank.fingerprint import fingerprint
from rerank.loading import load_model
from rerank.options import ModelOptions, check_loaded, resolve_options

__all__ = ["CrossEncoderScorer"]

logger = logging.getLogger(__name__)

# A token covers at most a few dozen characters of real text, so longer premises are cut before tokenising:
# this keeps a multi-megabyte document from costing seconds when only max_length tokens will be read anyway.
CHARS_PER_TOKEN_BOUND = 32


class CrossEncoderScorer:
    """Loads a cross-encoder once and turns (premise, hypothesis) pairs into raw logits.

    Args:
        model: Hub id or local directory, or a LoadedModel (``rerank.load_model``) to share one copy; options that
            decide loading (backend, precision, device, threads) must then agree with it.
        options: A ModelOptions; keyword ``overrides`` (``batch_size=16``, ...) are applied on top of it.

    Attributes:
        model: The LoadedModel (tokenizer, runner, labels).
        options: The ModelOptions in force (max_length capped at the model's positions).
        cache: Optional ScoreCache shared by any number of scorers; None scores every pair.
        truncated_pairs: Running count of scored (not cached) pairs whose premise was cut to fit max_length.
    """

    def __init__(self, model: str | LoadedModel, options: ModelOptions | None = None, **overrides: Any):
        options = resolve_options(options, overrides)
        if isinstance(model, LoadedModel):
            check_loaded(options, model)
            self.model = model
        elif isinstance(model, str) and model.strip():
            self.model = load_model(
                model, backend=options.backend, precision=options.precision, device=options.device,
                threads=options.threads, auto_export=options.auto_export, show_progress=options.show_progress,
            )  # fmt: skip
        else:
            raise TypeError(f"model must be a hub id or a directory path (non-empty str), got {model!r}")
        if self.model.max_positions and options.max_length > self.model.max_positions:
            logger.warning(
                "max_length %d exceeds the model's %d positions; using %d",
                options.max_length,
                self.model.max_positions,
                self.model.max_positions,
            )
            options = options.model_copy(update={"max_length": self.model.max_positions})
        self.options = options
        self.truncated_pairs = 0
        self._truncation_logged = False

    @property
    def cache(self) -> ScoreCache | None:
        return self.options.cache

    @property
    def batch_size(self) -> int:
        return self.options.batch_size

    @property
    def max_length(self) -> int:
        return self.options.max_length

    @property
    def show_progress(self) -> bool:
        return self.options.show_progress

    @property
    def fingerprint(self) -> str:
        """Identity of what decides a pair's logits: the weights, backend, precision and max_length."""
        return fingerprint({"weights": self.model.fingerprint, "backend": self.backend, "precision": self.precision,
                            "max_length": self.max_length})  # fmt: skip

    @property
    def backend(self) -> str:
        return self.model.runner.backend

    @property
    def precision(self) -> str:
        return self.model.runner.precision

    def logits(self, passages: Sequence[str], queries: Sequence[str], *, query_first: bool = False) -> np.ndarray:
        """Raw logits (n, num_logits) for (passage, query) pairs, in input order; no model call for an empty list.

        The model reads (passage, query) unless ``query_first``; only the passage is ever truncated. With a cache,
        pairs seen before under the same model, backend, precision and max_length are not run again, and a pair
        repeated within one call is run once.
        """
        if len(passages) != len(queries):
            raise ValueError(f"got {len(passages)} passages but {len(queries)} queries")
        if not passages:
            return np.empty((0, self.model.num_logits), dtype=np.float32)
        if self.cache is None:
            return self._run(passages, queries, query_first)
        order, identity = ("query-first" if query_first else "passage-first"), self.fingerprint
        keys = [
            ScoreCache.key(identity, order, passage, query) for passage, query in zip(passages, queries, strict=True)
        ]
        cached = self.cache.get_many(keys)
        todo: dict[bytes, int] = {}
        for index, (key, row) in enumerate(zip(keys, cached, strict=True)):
            if row is None and key not in todo:
                todo[key] = index
        fresh: dict[bytes, np.ndarray] = {}
        if todo:
            computed = self._run([passages[i] for i in todo.values()], [queries[i] for i in todo.values()], query_first)
            self.cache.put_many(list(todo), computed)
            fresh = dict(zip(todo, computed, strict=True))
        return np.stack([row if row is not None else fresh[key] for key, row in zip(keys, cached, strict=True)])

    def _run(self, passages: Sequence[str], queries: Sequence[str], query_first: bool) -> np.ndarray:
        """Tokenise, count truncations and run every pair through the backend (no cache)."""
        limit = self.max_length * CHARS_PER_TOKEN_BOUND
        cut = [passage[:limit] for passage in passages]
        encoded = encode_pairs(self.model.tokenizer, cut, queries, self.max_length, query_first=query_first)
        truncated = int((encoded.truncated | np.array([len(p) > limit for p in passages])).sum())
        if truncated:
            self.truncated_pairs += truncated
            # Warn once per scorer; later calls log at debug level (the running count is truncated_pairs).
            log = logger.debug if self._truncation_logged else logger.warning
            log(
                "%d of %d passages were truncated to max_length=%d tokens (%d so far; reranker.truncated_pairs has "
                "the running count)", truncated, len(passages), self.max_length, self.truncated_pairs,
            )  # fmt: skip
            self._truncation_logged = True
        return run_batches(
            encoded,
            self.model.runner,
            input_names=self.model.runner.input_names,
            pad_token_id=self.model.tokenizer.pad_token_id or 0,
            batch_size=self.batch_size,
            show_progress=self.show_progress,
        )
