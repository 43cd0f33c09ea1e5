"""Sentence splitting: hand-made examples, and Hypothesis properties plus agreement with the former quadratic
splitter, kept below as the reference oracle."""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rerank.sentences import split_sentences

EXAMPLES = [
    ("One here. Two there! Three? Four.", ["One here.", "Two there!", "Three?", "Four."]),
    (
        "Smith et al. reported it (see Fig. 2). The dose was 0.5 mg, e.g. daily. Dr. Who agreed.",
        ["Smith et al. reported it (see Fig. 2).", "The dose was 0.5 mg, e.g. daily.", "Dr. Who agreed."],
    ),
    ("   ", []),
    ("no final stop", ["no final stop"]),
    ("Ça marche. Ünïcode fine.", ["Ça marche.", "Ünïcode fine."]),
    (
        "Aspirin helps. It lowers risk, e.g. of stroke. Done!",
        ["Aspirin helps.", "It lowers risk, e.g. of stroke.", "Done!"],
    ),
    (
        'He said "Stop." Then left. (See below.) [Done.] 3 left.',
        ['He said "Stop."', "Then left.", "(See below.)", "[Done.]", "3 left."],
    ),
    (
        "J. R. R. Tolkien wrote it. Mr. Baggins. Vol. 2 out.",
        ["J. R. R. Tolkien wrote it.", "Mr. Baggins.", "Vol. 2 out."],
    ),
    ("Wait?. Yes.. No!) Fine.'' Not split.", ["Wait?.", "Yes..", "No!)", "Fine.'' Not split."]),
    ("end.\n\nNew paragraph.\tTab. lower case. Kept", ["end.", "New paragraph.", "Tab. lower case.", "Kept"]),
]


# The splitter before it was made linear (quadratic: it copies the rest of the text at every candidate boundary).
_REF_ABBREVIATIONS = {
    "e.g", "i.e", "etc", "al", "fig", "figs", "dr", "mr", "mrs", "ms", "prof", "vs", "no", "approx", "ca",
    "eq", "ref", "refs", "st", "jr", "sr", "inc", "ltd", "co", "vol", "pp", "resp", "cf", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
}  # fmt: skip
_REF_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]?\s+")


def _ref_ends_with_abbreviation(fragment: str) -> bool:
    last_word = fragment.rstrip().rsplit(maxsplit=1)[-1] if fragment.strip() else ""
    stripped = last_word.rstrip(".").lstrip("(\"'[").lower()
    if stripped in _REF_ABBREVIATIONS:
        return True
    return len(stripped) == 1 and stripped.isalpha()


def reference_split(text: str) -> list[str]:
    text = text.strip()
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for match in _REF_BOUNDARY.finditer(text):
        following = text[match.end() :].lstrip("\"'([")
        if not following or not (following[0].isupper() or following[0].isdigit()):
            continue
        if _ref_ends_with_abbreviation(text[start : match.start()]):
            continue
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


WORDS = ["aspirin", "Aspirin", "risk", "The", "it", "Ça", "Ünïcode", "naïve", "ΑΒΓ", "über", "東京", "x", "I", "0.5",
         "42", "3rd", "²", "Ⅻ", "Ⓐ", "ǅ", "ﬁ", "İ", "١٢"]  # fmt: skip
ABBREVIATIONS = ["e.g.", "i.e.", "et al.", "Fig.", "Figs.", "Dr.", "dr.", "Mr.", "vs.", "No.", "etc.", "Sept.",
                 "J.", "A.", "a.", "é.", "(e.g.", "[Fig.", "'Dr.", "e.g..", "X.Y."]  # fmt: skip
PUNCTUATION = [".", "!", "?", "?.", "..", ".)", ".]", '."', ".'", '.")', ".''", "!)", ",", ";", ":", "-", ""]
OPENERS = ["", "", "", '"', "'", "(", "[", "((", "\"'", ")"]
SPACES = [" ", " ", " ", "  ", "\n", "\n\n", "\t", "\u00a0", "\u2003", "\u3000", "\x1c", "\u2028", "\x85", ""]

word = st.builds(lambda opener, core, punct: opener + core + punct, st.sampled_from(OPENERS),
                 st.sampled_from(WORDS) | st.sampled_from(ABBREVIATIONS) | st.text(min_size=1, max_size=4),
                 st.sampled_from(PUNCTUATION))  # fmt: skip
token = st.tuples(word, st.sampled_from(SPACES)).map("".join)
texts = st.lists(token, max_size=40).map("".join) | st.text(max_size=200)


@pytest.mark.parametrize(("text", "expected"), EXAMPLES)
def test_examples(text, expected):
    assert split_sentences(text) == expected
    assert reference_split(text) == expected


def test_whitespace_agrees_between_regex_and_str():
    """The splitter mixes regex \\s with str.strip: both must call the same characters whitespace."""
    space = re.compile(r"\s")
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        assert bool(space.fullmatch(char)) == char.isspace() == (char.strip() == ""), hex(code)


@settings(max_examples=2000, deadline=None)
@given(texts)
def test_agrees_with_the_former_splitter(text):
    assert split_sentences(text) == reference_split(text)


@settings(max_examples=1000, deadline=None)
@given(st.text())
def test_arbitrary_unicode_agrees_with_the_former_splitter(text):
    assert split_sentences(text) == reference_split(text)


@settings(max_examples=1000, deadline=None)
@given(texts | st.text())
def test_sentences_are_stripped_ordered_substrings_covering_the_text(text):
    sentences = split_sentences(text)
    position = 0
    for sentence in sentences:
        assert sentence and sentence == sentence.strip()
        found = text.find(sentence, position)
        assert found >= 0  # a substring of the input, each after the one before
        assert text[position:found].strip() == ""  # only whitespace between consecutive sentences
        position = found + len(sentence)
    assert text[position:].strip() == ""
    assert "".join("".join(s.split()) for s in sentences) == "".join(text.split())


def test_long_text_without_spaces_or_boundaries():
    text = "a." * 50_000 + " " + "B" * 100_000 + ". " + "C."
    assert split_sentences(text) == reference_split(text) == [text[:100_000], text[100_001:-3], "C."]
