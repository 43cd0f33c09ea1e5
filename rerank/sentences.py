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
# A candidate boundary: ., ! or ?, at most one closing quote or bracket, whitespace; the lookahead captures the first
# character after any opening quotes or brackets (empty at the end of the text) without consuming it.
_BOUNDARY = re.compile(r"[.!?][\"')\]]?\s+(?=[\"'(\[]*(.?))", re.DOTALL)
_NON_SPACE = re.compile(r"\S*")


def _is_abbreviation(word: str) -> bool:
    stripped = word.rstrip(".").lstrip("(\"'[").lower()
    if stripped in _ABBREVIATIONS:
        return True
    return len(stripped) == 1 and stripped.isalpha()  # an initial such as "J."


def split_sentences(text: str) -> list[str]:
    """Split text into sentences; empty or whitespace-only text gives an empty list.

    Runs in time linear in the length of ``text``.

    Example:
        >>> split_sentences("Aspirin helps. It lowers risk, e.g. of stroke. Done!")
        ['Aspirin helps.', 'It lowers risk, e.g. of stroke.', 'Done!']
    """
    text = text.strip()
    if not text:
        return []
    # No boundary copies the text before or after it (the old split did, which made it quadratic): the character
    # after a boundary comes from the regex and the word before it from a scan of the text reversed once.
    reversed_text = text[::-1]
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        following = match.group(1)
        if not (following.isupper() or following.isdigit()):  # both False for "", the end of the text
            continue
        # The word ends with the punctuation mark; it starts where the run of non-space characters that begins at
        # the mark in the reversed text ends.
        run = _NON_SPACE.match(reversed_text, len(text) - 1 - match.start())  # never None: the mark is not a space
        word_start = len(text) - run.end() if run else match.start()
        if _is_abbreviation(text[word_start : match.start() + 1]):
            continue
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences
