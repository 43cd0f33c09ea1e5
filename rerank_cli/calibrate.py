"""``rerank calibrate``: placeholder until the calibration command lands."""

from __future__ import annotations


def register(subparsers) -> None:
    """Nothing yet."""
