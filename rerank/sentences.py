"""Sentence splitting for scoring passages sentence by sentence, in English and in other languages.

English (``language=None``, the default, or ``"en"``): a dependency-free rule that splits after ., ! or ? followed
by whitespace and an upper-case letter or digit (after an optional opening quote or bracket), except after common
abbreviations (e.g., i.e., et al., Fig., Dr.) and single initials. Good enough for abstracts and web passages.

Any other language code (``"de"``, ``"zh"``, ``"hi"``, ``"ar"``, ``"pt-br"``, ...): sentencex (Wikimedia, MIT
licence, a dependency; rules for about 300 languages, with fallbacks between related ones), which knows the
sentence marks of other scripts (CJK 。！？ without a following space, Devanagari ।, Arabic ؟ and Urdu ۔), each
language's abbreviations, and breaks at blank lines. Codes sentencex has no rules for get its generic rules.
docs/languages.md has what each script gives and the speed of both.

A document can carry its own split in ``metadata["sentences"]``, which then wins.
"""

from __future__ import annotations

import re

from rerank.errors import MissingDependencyError

__all__ = ["check_language", "split_sentences"]

_ABBREVIATIONS = {
    "e.g", "i.e", "etc", "al", "fig", "figs", "dr", "mr", "mrs", "ms", "prof", "vs", "no", "approx", "ca",
    "eq", "ref", "refs", "st", "jr", "sr", "inc", "ltd", "co", "vol", "pp", "resp", "cf", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
}  # fmt: skip
# A candidate boundary: ., ! or ?, at most one closing quote or bracket, whitespace; the lookahead captures the first
# character after any opening quotes or brackets (empty at the end of the text) without consuming it.
_BOUNDARY = re.compile(r"[.!?][\"')\]]?\s+(?=[\"'(\[]*(.?))", re.DOTALL)
_NON_SPACE = re.compile(r"\S*")
# sentencex reads text in windows of this many characters, re-reading sentences that end in the last _MARGIN ones.
_WINDOW = 4000
_MARGIN = 200
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*")  # "de", "zh", "pt-br", "sr-latn": lower-case BCP 47


def _is_abbreviation(word: str) -> bool:
    stripped = word.rstrip(".").lstrip("(\"'[").lower()
    if stripped in _ABBREVIATIONS:
        return True
    return len(stripped) == 1 and stripped.isalpha()  # an initial such as "J."


def split_sentences(text: str, language: str | None = None) -> list[str]:
    """Split text into sentences; empty or whitespace-only text gives an empty list.

    Every sentence is a stripped, non-empty substring of ``text``, in order. Runs in time linear in the length of
    ``text``.

    Args:
        text: The text.
        language: None or ``"en"`` (also ``"en-gb"``, ...) for the English rule; any other lower-case language code
            for sentencex's rules for that language.

    Raises:
        ValueError: ``language`` is not a lower-case language code.
        MissingDependencyError: a language other than English without sentencex installed.

    Example:
        >>> split_sentences("Aspirin helps. It lowers risk, e.g. of stroke. Done!")
        ['Aspirin helps.', 'It lowers risk, e.g. of stroke.', 'Done!']
        >>> split_sentences("我喜欢猫。你呢？", language="zh")
        ['我喜欢猫。', '你呢？']
    """
    code = check_language(language)
    return _split_english(text) if code is None else _split_with_sentencex(text, code)


def check_language(language: str | None) -> str | None:
    """The splitter a language gets: None for the English rule (None, ``"en"``, ``"en-gb"``, ...), otherwise the
    code itself (sentencex). A reranker calls it at construction so a bad code fails before any scoring.

    Raises:
        TypeError: ``language`` is neither None nor a string.
        ValueError: ``language`` is not a lower-case language code.

    Example:
        >>> check_language("en-gb") is None, check_language("zh")
        (True, 'zh')
    """
    if language is None:
        return None
    if not isinstance(language, str):
        raise TypeError(f"language must be None or a language code (str), got {type(language).__name__}")
    if not _LANGUAGE_CODE.fullmatch(language):
        raise ValueError(f"language must be None or a lower-case code such as 'en', 'zh' or 'pt-br', got {language!r}")
    return None if language.split("-", 1)[0] == "en" else language


def _split_with_sentencex(text: str, language: str) -> list[str]:
    """sentencex's sentences of ``text``, stripped, blank ones (paragraph breaks) left out.

    sentencex's time grows with the square of a paragraph's length where sentence marks are not followed by a space
    (CJK: 400,000 characters take minutes), so the text is read in windows of ``_WINDOW`` characters: the sentences
    that end in a window's last ``_MARGIN`` characters, which may lack the context that decides them, are read again
    at the start of the next window (a window without a sentence ending before its margin is doubled). A quotation
    or bracket that sentencex would keep whole and that is longer than the margin can then be cut at a sentence mark
    inside it; nothing else changes.
    """
    try:
        from sentencex import segment  # type: ignore[import-untyped]
    except ImportError as error:
        raise MissingDependencyError(
            f"language={language!r} splits with sentencex; install it with `pip install sentencex` "
            "(or pass language=None for the English rule)"
        ) from error
    sentences: list[str] = []
    start, window = 0, _WINDOW
    while start < len(text):
        stop = min(len(text), start + window)
        spans = _piece_spans(text, start, segment(language, text[start:stop]))
        if stop < len(text):
            spans = [(first, last) for first, last in spans if last <= stop - _MARGIN]
            if not spans:  # no sentence ends before the margin: read a longer window from the same place
                window *= 2
                continue
        for first, last in spans:
            sentence = text[first:last].strip()
            if sentence:
                sentences.append(sentence)
        start, window = spans[-1][1] if spans else len(text), _WINDOW
    return sentences


def _piece_spans(text: str, offset: int, pieces: list[str]) -> list[tuple[int, int]]:
    """Spans in ``text`` of sentencex's pieces of ``text[offset:...]``: they tile it, each starting where the one
    before ended (searched for should one not, so a span always holds its piece)."""
    spans = []
    cursor = offset
    for piece in pieces:
        start = cursor if text.startswith(piece, cursor) else text.find(piece, cursor)
        if start < 0 or not piece:
            continue
        cursor = start + len(piece)
        spans.append((start, cursor))
    return spans


def _split_english(text: str) -> list[str]:
    """The English rule (see the module docstring)."""
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
