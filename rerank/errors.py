"""Errors the reranker raises beyond plain ValueError/TypeError."""

from __future__ import annotations

__all__ = ["MissingDependencyError", "ModelLoadError"]


class ModelLoadError(OSError):
    """A model could not be found or read; the message says what was looked for and how to provide it."""


class MissingDependencyError(ImportError):
    """An optional backend was requested whose package is not installed; the message names the pip extra."""
