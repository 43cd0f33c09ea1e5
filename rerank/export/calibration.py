"""Calibration pairs for static int8 quantization, read from a premise<TAB>hypothesis file."""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["read_pairs_tsv"]


def read_pairs_tsv(path: str | Path, limit: int | None = None) -> list[tuple[str, str]]:
    """(premise, hypothesis) pairs from a TSV whose first two columns hold them; a header row premise/hypothesis
    is skipped.

    Raises:
        FileNotFoundError: No such file.
        ValueError: A row with fewer than two columns, or no pairs at all.

    Example:
        >>> read_pairs_tsv("calibration.tsv", limit=300)  # doctest: +SKIP
        [('A man plays a guitar.', 'Someone makes music.'), ...]
    """
    path = Path(path)
    pairs: list[tuple[str, str]] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if number == 1 and [cell.lower() for cell in row[:2]] == ["premise", "hypothesis"]:
                continue
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                raise ValueError(f"{path}:{number}: expected premise<TAB>hypothesis, got {row!r}")
            pairs.append((row[0], row[1]))
            if limit is not None and len(pairs) >= limit:
                break
    if not pairs:
        raise ValueError(f"{path} holds no (premise, hypothesis) pairs")
    return pairs
