"""Calibration pairs for static int8 quantization, read from a premise<TAB>hypothesis file (``rerank.nli_tsv``)."""

from __future__ import annotations

from pathlib import Path

from rerank.nli_tsv import read_nli_tsv

__all__ = ["read_pairs_tsv"]


def read_pairs_tsv(path: str | Path, limit: int | None = None) -> list[tuple[str, str]]:
    """(premise, hypothesis) pairs from a TSV whose first two columns hold them; a header row premise/hypothesis
    is skipped. Read by the project's one pair reader, ``rerank.nli_tsv.read_nli_tsv``.

    Raises:
        FileNotFoundError: No such file.
        ValueError: A row with fewer than two columns, a blank cell, bytes that are not UTF-8, or no pairs at all,
            naming the file and line.

    Example:
        >>> read_pairs_tsv("calibration.tsv", limit=300)  # doctest: +SKIP
        [('A man plays a guitar.', 'Someone makes music.'), ...]
    """
    pairs = read_nli_tsv(path, limit=limit)
    return list(zip(pairs.premises, pairs.hypotheses, strict=True))
