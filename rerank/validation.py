"""Argument checks shared by the rerankers and the pipeline; each error names the bad value."""

from __future__ import annotations

import math
import numbers

from rerank.records import check_text, has_visible_text

__all__ = ["check_positive_int", "check_query", "check_threshold", "check_top_k"]


def check_query(query: object) -> str:
    if not isinstance(query, str):
        raise TypeError(f"query must be a str, got {type(query).__name__}")
    if not has_visible_text(query):
        raise ValueError("query is empty; pass a non-empty question or claim")
    return check_text("query", query)


def check_threshold(name: str, value: object) -> float | None:
    """A probability threshold: None, or a finite real number (numpy scalars included) in [0, 1]."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a probability in [0, 1] or None, got {type(value).__name__}")
    number = float(value)
    if math.isnan(number) or not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return number


def check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def check_top_k(value: object) -> int | None:
    return None if value is None else check_positive_int("top_k", value)
