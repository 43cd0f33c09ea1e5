"""``rerank verify``: placeholder until the verify command lands."""

from __future__ import annotations


def register(subparsers) -> None:
    """Nothing yet."""
