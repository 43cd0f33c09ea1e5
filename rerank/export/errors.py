"""The error an export raises when it fails or its graph does not reproduce the source model."""

from __future__ import annotations

__all__ = ["ExportError"]


class ExportError(RuntimeError):
    """An export failed or produced a graph that does not reproduce the PyTorch model."""
