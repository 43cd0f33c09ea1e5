"""What a document becomes before scoring: the premises (segments) a reranker pairs with the query.

Three granularities behind one option:

- ``passage``: the whole document ("Title. Text"); a long one is truncated at ``max_length``.
- ``sentence``: each sentence alone.
- ``window``: consecutive sentences packed up to a token budget (``window_tokens``), each window starting with the
  last sentence of the one before (a one-sentence overlap), so evidence spread over two adjacent sentences is read
  together and a document of any length is read to the end. A sentence longer than the budget, or text without
  sentence boundaries, is cut into token windows with a stride of three quarters of the budget.

Sentences are the document's own split when it brings one in ``metadata["sentences"]`` (a list of strings),
otherwise ``rerank.sentences.split_sentences`` of its text, in the given ``language`` (None: the English rule).
This module is the one sentence source of the project: the rerankers, the evaluation cache (pairs per document) and
the fact-check metrics all read sentences here.

Spans: every segment carries its character span ``[start, end)`` in ``document.text`` (the title is not part of
the text, so a segment holding only the title has no span, and a prefixed title is not counted in the span); a
given sentence that is not a substring of the text has no span, nor does a window holding one.

Title handling at sentence and window granularity (``title=``): ``"sentence"`` scores the title as one more segment
before the others, ``"prefix"`` prepends it to every segment, ``"ignore"`` leaves it out (it is scored only when the
document has no text). docs/evaluation.md has the SciFact measurement behind the default.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rerank.records import Document, join_title
from rerank.sentences import split_sentences

__all__ = [
    "DEFAULT_GRANULARITY",
    "DEFAULT_TITLE",
    "DEFAULT_WINDOW_TOKENS",
    "GRANULARITIES",
    "TITLE_MODES",
    "Segment",
    "TokenOffsets",
    "document_sentences",
    "given_sentences",
    "segment_document",
    "sentence_spans",
    "token_windows",
    "word_offsets",
]

GRANULARITIES = ("passage", "sentence", "window")
TITLE_MODES = ("sentence", "prefix", "ignore")
DEFAULT_GRANULARITY = "sentence"
DEFAULT_TITLE = "ignore"
DEFAULT_WINDOW_TOKENS = 256
MIN_WINDOW_TOKENS = 8  # a window budget left after a long prefixed title is never below this

Span = tuple[int, int]
# Character offsets (start, end) of each token of a text, special tokens excluded.
TokenOffsets = Callable[[str], Sequence[tuple[int, int]]]
_WORD = re.compile(r"\S+")


def word_offsets(text: str) -> list[tuple[int, int]]:
    """Offsets of whitespace-separated words: the token count used when no tokenizer with offsets is available."""
    return [match.span() for match in _WORD.finditer(text)]


@dataclass(frozen=True)
class Segment:
    """One premise cut from a document.

    Attributes:
        text: What the model reads.
        sentence: Index (in ``document_sentences(document)``) of the first sentence it holds; None for the whole
            passage, a segment of the title alone, or a token window of text without sentence boundaries.
        span: Character span ``[start, end)`` of the segment in ``document.text``; None when it cannot be located
            (the title alone, a given sentence that is not a substring of the text).
    """

    text: str
    sentence: int | None
    span: Span | None


def given_sentences(document: Document) -> list[str] | None:
    """The document's own sentence split (``metadata["sentences"]``), or None when it brings none.

    Raises:
        ValueError: ``metadata["sentences"]`` is present but not a list of strings.
    """
    given = document.metadata.get("sentences")
    if given is None:
        return None
    if not isinstance(given, list) or not all(isinstance(sentence, str) for sentence in given):
        kind = type(given).__name__ if not isinstance(given, list) else "a list with non-strings"
        raise ValueError(f"document {document.id!r}: metadata['sentences'] must be a list of strings, got {kind}")
    return given


def document_sentences(document: Document, language: str | None = None) -> list[str]:
    """The document text's sentences (its own split when given, blank entries kept so indices stay aligned;
    otherwise ``split_sentences(document.text, language)``)."""
    given = given_sentences(document)
    return given if given is not None else split_sentences(document.text, language)


def sentence_spans(text: str, sentences: Sequence[str]) -> list[Span | None]:
    """Each sentence's span in ``text``, searched in order (None for one that is not a substring of the text)."""
    spans: list[Span | None] = []
    cursor = 0
    for sentence in sentences:
        needle = sentence.strip()
        start = text.find(needle, cursor) if needle else -1
        if start < 0 and needle:
            start = text.find(needle)  # a given split may repeat or reorder text
        if start < 0:
            spans.append(None)
            continue
        spans.append((start, start + len(needle)))
        cursor = start + len(needle)
    return spans


def _join(text: str, parts: Sequence[Segment]) -> Segment:
    """One segment covering consecutive segments: the text between their spans, or their texts joined by spaces."""
    spans = [part.span for part in parts]
    if all(span is not None for span in spans):
        start, end = spans[0][0], spans[-1][1]  # type: ignore[index]
        return Segment(text[start:end], parts[0].sentence, (start, end))
    return Segment(" ".join(part.text for part in parts), parts[0].sentence, None)


def token_windows(segment: Segment, offsets: TokenOffsets, budget: int) -> list[Segment]:
    """Windows of ``budget`` tokens, one every ``3/4 budget`` tokens, over one segment too long for a window."""
    stride = max(1, budget * 3 // 4)
    tokens = offsets(segment.text)
    windows = []
    for first in range(0, len(tokens), stride):
        chunk = tokens[first : first + budget]
        start, end = chunk[0][0], chunk[-1][1]
        span = None if segment.span is None else (segment.span[0] + start, segment.span[0] + end)
        windows.append(Segment(segment.text[start:end], segment.sentence, span))
        if first + budget >= len(tokens):
            break
    return windows


def _pack(text: str, sentences: list[Segment], counts: list[int], budget: int, offsets: TokenOffsets) -> list[Segment]:
    """Sentences packed into windows of at most ``budget`` tokens, each window starting with the previous one's last
    sentence; a sentence over the budget becomes token windows of its own."""
    windows: list[Segment] = []
    i = 0
    while i < len(sentences):
        if counts[i] > budget:
            windows += token_windows(sentences[i], offsets, budget)
            i += 1
            continue
        j, total = i, counts[i]
        while j + 1 < len(sentences) and total + counts[j + 1] <= budget:
            j += 1
            total += counts[j]
        windows.append(_join(text, sentences[i : j + 1]))
        if j == len(sentences) - 1:
            break
        i = j if j > i else j + 1  # overlap one sentence, unless the window held only one
    return windows


def _token_counts(text: str, sentences: list[Segment], offsets: TokenOffsets) -> list[int]:
    """Tokens per sentence: read off one tokenisation of the whole text where the sentence has a span."""
    starts = [start for start, _ in offsets(text)] if any(s.span for s in sentences) else []
    counts = []
    for sentence in sentences:
        if sentence.span is None:
            counts.append(len(offsets(sentence.text)))
        else:
            counts.append(bisect.bisect_left(starts, sentence.span[1]) - bisect.bisect_left(starts, sentence.span[0]))
    return counts


def segment_document(
    document: Document,
    granularity: str,
    title: str = DEFAULT_TITLE,
    *,
    window_tokens: int = DEFAULT_WINDOW_TOKENS,
    token_offsets: TokenOffsets = word_offsets,
    language: str | None = None,
) -> list[Segment]:
    """The premises of one document, never empty for a document with visible text or title.

    Args:
        document: The document.
        granularity: "passage", "sentence" or "window".
        title: How the title is scored at sentence and window granularity: "sentence", "prefix" or "ignore".
        window_tokens: Token budget of a window (the premise only; the query comes on top).
        token_offsets: The tokenizer's token offsets for a text (``word_offsets`` approximates tokens by words).
        language: Language code of the text for the sentence splitter (``split_sentences``); None: the English rule.
            Unused at passage granularity and for a document that brings its own split.
    """
    text = document.text
    if granularity == "passage":
        return [Segment(document.content, None, (0, len(text)) if text.strip() else None)]
    raw = document_sentences(document, language)
    sentences = [
        Segment(sentence, index, span)
        for index, (sentence, span) in enumerate(zip(raw, sentence_spans(text, raw), strict=True))
        if sentence.strip()
    ]
    heading = (document.title or "").strip()
    if not sentences:
        return [Segment(document.content, None, None)]
    if granularity == "window":
        budget = window_tokens
        if heading and title == "prefix":  # the prefixed title's tokens come out of each window's budget
            budget = max(window_tokens - len(token_offsets(heading)) - 1, min(window_tokens, MIN_WINDOW_TOKENS))
        sentences = _pack(text, sentences, _token_counts(text, sentences, token_offsets), budget, token_offsets)
    if not heading or title == "ignore":
        return sentences
    if title == "sentence":
        return [Segment(heading, None, None), *sentences]
    return [Segment(join_title(heading, segment.text), segment.sentence, segment.span) for segment in sentences]
