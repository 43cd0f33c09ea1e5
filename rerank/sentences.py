"""A dependency-free sentence splitter for scoring passages sentence by sentence.

Splits after ., ! or ? followed by whitespace and an upper-case letter or digit (after an optional opening
quote or bracket), except after common abbreviations (e.g., i.e., et al., Fig., Dr.) and single initials.
Good enough for abstracts and web passages; a document can carry its own split in ``metadata["sentences"]``,
which then wins.
"""

from __future__ import annotations

import re

__all__ = ["split_sentences"]

_ABBREVIATIONS = {
    "e.g", "i.e", "etc", "al", "fig", "figs", "dr", "mr", "mrs", "ms", "prof", "vs", "no", "approx", "ca",
    "eq", "ref", "refs", "st", "jr", "sr", "inc", "ltd", "co", "vol", "pp", "resp", "cf", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
}  # fmt: skip
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]?\s+")


def _ends_with_abbreviation(fragment: str) -> bool:
    last_word = fragment.rstrip().rsplit(maxsplit=1)[-1] if fragment.strip() else ""
    stripped = last_word.rstrip(".").lstrip("(\"'[").lower()
    if stripped in _ABBREVIATIONS:
        return True
    return len(stripped) == 1 and stripped.isalpha()  # an initial such as "J."


def split_sentences(text: str) -> list[str]:
    """Split text into sentences; empty or whitespace-only text gives an empty list.

    Example:
        >>> split_sentences("Aspirin helps. It lowers risk, e.g. of stroke. Done!")
        ['Aspirin helps.', 'It lowers risk, e.g. of stroke.', 'Done!']
    """
    text = text.strip()
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        following = text[match.end() :].lstrip("\"'([")
        if not following or not (following[0].isupper() or following[0].isdigit()):
            continue
        if _ends_with_abbreviation(text[start : match.start()]):
            continue
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences
