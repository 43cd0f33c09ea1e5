"""Tokenise (premise, hypothesis) pairs once and run them in length-sorted, dynamically padded batches.

Sorting by length means each batch is padded only to its own longest pair, which on CPU is where most of the
speed of a cross-encoder is won or lost; results are put back in input order. Only the premise is truncated:
a hypothesis that does not fit is an error, because cutting the claim would change the question being asked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from rerank.shared_tokenizer import tokenize

__all__ = ["EncodedPairs", "encode_pairs", "run_batches"]

logger = logging.getLogger(__name__)


@dataclass
class EncodedPairs:
    """Token ids per pair (unpadded) plus which premises were truncated."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None
    truncated: np.ndarray

    def __len__(self) -> int:
        return len(self.input_ids)


def encode_pairs(
    tokenizer, passages: Sequence[str], queries: Sequence[str], max_length: int, *, query_first: bool = False
) -> EncodedPairs:
    """Tokenise pairs to at most ``max_length`` tokens, truncating only the passage.

    NLI models read (passage, query) = (premise, hypothesis); relevance models read (query, passage), which
    ``query_first`` selects. Either way only the passage is cut.

    Raises:
        ValueError: A query is so long that no passage token would fit.
    """
    special = tokenizer.num_special_tokens_to_add(pair=True)
    query_lengths = {}
    for query in set(queries):
        query_lengths[query] = len(tokenize(tokenizer, query, add_special_tokens=False, verbose=False)["input_ids"])
        if query_lengths[query] + special >= max_length:
            raise ValueError(
                f"the query (hypothesis) is {query_lengths[query]} tokens long and max_length is {max_length}: "
                f"no room is left for the passage; shorten the query or raise max_length. Query: {query[:80]!r}"
            )
    passage_lengths = [
        len(ids) for ids in tokenize(tokenizer, list(passages), add_special_tokens=False, verbose=False)["input_ids"]
    ]
    truncated = np.array(
        [p + query_lengths[q] + special > max_length for p, q in zip(passage_lengths, queries, strict=True)], dtype=bool
    )
    if query_first:
        encoded = tokenize(tokenizer, list(queries), list(passages), truncation="only_second", max_length=max_length)
    else:
        encoded = tokenize(tokenizer, list(passages), list(queries), truncation="only_first", max_length=max_length)
    return EncodedPairs(encoded["input_ids"], encoded.get("token_type_ids"), truncated)


def _pad(rows: list[list[int]], value: int) -> np.ndarray:
    width = max(len(row) for row in rows)
    out = np.full((len(rows), width), value, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def run_batches(
    encoded: EncodedPairs,
    run: Callable[[dict[str, np.ndarray]], np.ndarray],
    *,
    input_names: Sequence[str],
    pad_token_id: int,
    batch_size: int,
    show_progress: bool = True,
    description: str = "scoring",
) -> np.ndarray:
    """Run every pair through ``run`` in length-sorted batches; return logits in input order."""
    n = len(encoded)
    order = sorted(range(n), key=lambda i: len(encoded.input_ids[i]), reverse=True)
    starts = range(0, n, batch_size)
    outputs: np.ndarray | None = None
    progress = tqdm(total=n, desc=description, unit="pair", disable=not show_progress or len(starts) <= 1, leave=False)
    with progress:
        for start in starts:
            rows = order[start : start + batch_size]
            ids = [encoded.input_ids[i] for i in rows]
            features = {"input_ids": _pad(ids, pad_token_id)}
            features["attention_mask"] = (
                np.arange(features["input_ids"].shape[1]) < np.array([len(r) for r in ids])[:, None]
            ).astype(np.int64)
            if "token_type_ids" in input_names:
                types = (
                    [encoded.token_type_ids[i] for i in rows] if encoded.token_type_ids else [[0] * len(r) for r in ids]
                )
                features["token_type_ids"] = _pad(types, 0)
            logits = np.asarray(run({name: features[name] for name in input_names}), dtype=np.float32)
            if outputs is None:
                outputs = np.empty((n, logits.shape[1]), dtype=np.float32)
            outputs[rows] = logits
            progress.update(len(rows))
    return outputs if outputs is not None else np.empty((0, 0), dtype=np.float32)
