"""The one reader of (premise, hypothesis[, label]) TSV files: NLI test sets for eval, calibration pairs for export.

Format: tab-separated, UTF-8 (``.gz`` allowed), no quoting; a header row ``premise<TAB>hypothesis[<TAB>label]`` is
read when present and required when labels are. Labels are entailment | neutral | contradiction; RTE's
``not_entailment`` is read as neutral (the complement of entailment). Every error names the file and line.

Example:
    >>> pairs = read_nli_tsv("../shared/data/nli/snli_test.tsv", labels=True, limit=100)  # doctest: +SKIP
    >>> len(pairs), pairs.labels[0]  # doctest: +SKIP
    (100, 'neutral')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rerank.corpus import iter_lines

__all__ = ["NLI_LABELS", "NLIPairs", "read_nli_tsv"]

NLI_LABELS = ("entailment", "neutral", "contradiction")
_LABEL_ALIASES = {"not_entailment": "neutral"}


@dataclass(frozen=True)
class NLIPairs:
    """Parallel lists of premises and hypotheses, and gold labels when the file has them (else None)."""

    premises: list[str]
    hypotheses: list[str]
    labels: list[str] | None
    name: str = ""

    def __len__(self) -> int:
        return len(self.premises)


def read_nli_tsv(path: str | Path, *, labels: bool = False, limit: int | None = None) -> NLIPairs:
    """Read pairs (and, with ``labels=True``, their labels) from a TSV file.

    Raises:
        FileNotFoundError: No such file.
        ValueError: A missing header when labels are required, a row with too few fields, a blank premise or
            hypothesis, an unknown label, bytes that are not UTF-8, or no pairs at all; each naming file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pairs file not found: {path}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")
    wanted = 3 if labels else 2
    premises: list[str] = []
    hypotheses: list[str] = []
    gold: list[str] = []
    for number, line in iter_lines(path):
        row = line.rstrip("\r\n").split("\t")
        if number == 1:
            header = [cell.strip().lower() for cell in row[:wanted]]
            if header[:2] == ["premise", "hypothesis"] and (not labels or header[2:] == ["label"]):
                continue
            if labels:
                raise ValueError(f"{path}:1: expected the header premise<TAB>hypothesis<TAB>label, got {row!r}")
        if not line.strip():
            continue
        if len(row) < wanted:
            names = "premise<TAB>hypothesis" + ("<TAB>label" if labels else "")
            raise ValueError(f"{path}:{number}: expected {names} ({wanted} fields), got {len(row)}: {row!r}")
        if not row[0].strip() or not row[1].strip():
            raise ValueError(f"{path}:{number}: blank {'premise' if not row[0].strip() else 'hypothesis'}")
        if labels:
            label = row[2].strip().lower()
            label = _LABEL_ALIASES.get(label, label)
            if label not in NLI_LABELS:
                raise ValueError(f"{path}:{number}: label must be one of {NLI_LABELS}, got {row[2]!r}")
            gold.append(label)
        premises.append(row[0])
        hypotheses.append(row[1])
        if limit is not None and len(premises) >= limit:
            break
    if not premises:
        raise ValueError(f"{path} holds no (premise, hypothesis) pairs")
    name = path.name.removesuffix(".gz").removesuffix(".tsv")
    return NLIPairs(premises, hypotheses, gold if labels else None, name)
