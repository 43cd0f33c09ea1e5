"""Load any saved retriever by the kind its manifest names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from retrievers.storage import IndexFormatError, read_manifest

__all__ = ["RETRIEVER_KINDS", "load_retriever"]

RETRIEVER_KINDS = {"bm25": "BM25Retriever", "dense": "DenseRetriever", "hybrid": "HybridRetriever"}


def load_retriever(
    directory: str | Path, model: Any = None, device: str | None = None, verify: bool = True, show_progress: bool = True
) -> Any:
    """A BM25Retriever, DenseRetriever or HybridRetriever read from a directory written by its ``save``.

    Args:
        directory: The saved retriever.
        model / device: The encoder for dense retrievers (default: the saved model id); ignored for BM25.
        verify: Check every file's SHA-256 (sizes are always checked).
        show_progress: Passed to the loaded retriever.

    Example:
        >>> retriever = load_retriever("indexes/scifact-bm25")  # doctest: +SKIP
    """
    kind = read_manifest(directory)["kind"]
    if kind == "bm25":
        from retrievers.bm25 import BM25Retriever

        return BM25Retriever.load(directory, verify=verify, show_progress=show_progress)
    if kind == "dense":
        from retrievers.dense import DenseRetriever

        return DenseRetriever.load(directory, model=model, device=device, verify=verify, show_progress=show_progress)
    if kind == "hybrid":
        from retrievers.hybrid import HybridRetriever

        return HybridRetriever.load(directory, model=model, device=device, verify=verify, show_progress=show_progress)
    raise IndexFormatError(
        f"{directory} holds an unknown retriever kind {kind!r}; expected one of {sorted(RETRIEVER_KINDS)}"
    )
