"""Calls of a Hugging Face tokenizer shared between threads, one at a time.

A fast tokenizer keeps its truncation and padding settings as state: every call first sets them, then encodes. Two
threads calling one tokenizer can interleave, so that one thread's ``truncation=..., max_length=...`` call encodes
with the other thread's settings (no truncation) and hands the model a pair longer than its position table. The
HTTP server, Ray actors and framework callbacks all share one reranker between threads, so every call of a model
tokenizer on the scoring path goes through ``tokenize``.

Example:
    >>> encoded = tokenize(tokenizer, ["a premise"], ["a claim"], truncation="only_first")  # doctest: +SKIP
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

__all__ = ["tokenize", "tokenizer_lock"]

_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def tokenizer_lock(tokenizer: Any) -> threading.Lock:
    """The one lock of this tokenizer object (made on first use, dropped with the tokenizer)."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(tokenizer)
        if lock is None:
            lock = _LOCKS[tokenizer] = threading.Lock()
        return lock


def tokenize(tokenizer: Any, *args: Any, **kwargs: Any) -> Any:
    """``tokenizer(*args, **kwargs)`` while holding the tokenizer's lock."""
    with tokenizer_lock(tokenizer):
        return tokenizer(*args, **kwargs)
