"""Argument checks shared by the rerankers and the pipeline; each error names the bad value."""

from __future__ import annotations

import math

__all__ = ["check_positive_int", "check_query", "check_threshold", "check_top_k"]


def check_query(query: object) -> str:
    if not isinstance(query, str):
        raise TypeError(f"query must be a str, got {type(query).__name__}")
    if not query.strip():
        raise ValueError("query is empty; pass a non-empty question or claim")
    return query


def check_threshold(name: str, value: object) -> float | None:
    """A probability threshold: None, or a finite number in [0, 1]."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a probability in [0, 1] or None, got {type(value).__name__}")
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)


def check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def check_top_k(value: object) -> int | None:
    return None if value is None else check_positive_int("top_k", value)
