"""Lexical pre-selection: which segments of a document are worth a model pair for a query.

At sentence and window granularity a document becomes one model pair per segment; ``NLIReranker(max_segments=m)``
scores only the ``m`` segments this module ranks highest, and every granularity keeps at most ``SEGMENT_CAP``
segments of one huge document. The ranking is cheap and lexical:

    overlap(query, segment) = |terms(query) ∩ terms(segment)|

the number of distinct query terms the segment contains, with terms read by the BM25 tokenizer
(``rerank.tokenize.Tokenizer``: lowercase, stopwords removed, Snowball stems, in the documents' language), so a
segment is pre-selected for the same words BM25 retrieved its document for. Ties go to the earlier segment, and the
chosen segments are returned in document order. The scorer itself is tokenizer-agnostic (any ``str -> terms``).

Example:
    >>> from rerank.tokenize import Tokenizer
    >>> select_segments("aspirin prevents strokes", ["Methods were standard.", "Aspirin cut stroke rates."], 1,
    ...                 Tokenizer().tokenize)
    [1]
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from functools import cache

from rerank.tokenize import Tokenizer

__all__ = ["SEGMENT_CAP", "Tokenize", "overlap_scores", "preselect_tokenizer", "select_segments"]

logger = logging.getLogger(__name__)

# Most segments of one document ever scored, even when every segment is asked for (logged when a document hits it).
SEGMENT_CAP = 256

Tokenize = Callable[[str], Iterable[str]]


def overlap_scores(query: str, segments: Sequence[str], tokenize: Tokenize) -> list[int]:
    """``|terms(query) ∩ terms(segment)|`` for each segment: how many distinct query terms it contains."""
    terms = frozenset(tokenize(query))
    return [len(terms.intersection(tokenize(segment))) for segment in segments]


def select_segments(query: str, segments: Sequence[str], m: int, tokenize: Tokenize) -> list[int]:
    """Indices of the ``m`` segments with the highest overlap with the query, in document order (ties: earlier).

    All indices when there are at most ``m`` segments (no tokenisation then).
    """
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise ValueError(f"m must be a positive int, got {m!r}")
    if len(segments) <= m:
        return list(range(len(segments)))
    scores = overlap_scores(query, segments, tokenize)
    best = sorted(range(len(segments)), key=lambda i: (-scores[i], i))[:m]
    return sorted(best)


@cache
def preselect_tokenizer(language: str | None) -> Tokenize:
    """The BM25 tokenizer for ``language`` (None: English); for a language it has no stemmer or stopwords for,
    lowercase words alone."""
    code = language or "en"
    try:
        return Tokenizer(language=code).tokenize
    except ValueError:
        logger.debug("no BM25 tokenizer for language %r; pre-selecting segments on lowercase words", code)
        return Tokenizer(stopwords=None, stemmer=None, language="en").tokenize
