"""Shared records: documents, candidates, NLI scores and rerank results.

This is a leaf module (pydantic and numpy only). ``retrievers`` and ``eval`` import it; it imports nothing
from them. Records are immutable and validate their invariants when built, so a record that exists is valid.

Example:
    >>> doc = Document(id="d1", text="Aspirin lowers the risk of heart attack.")
    >>> cand = Candidate(document=doc, retriever="bm25", retriever_score=7.2, retriever_rank=1)
    >>> NLIScores(entailment=0.9, neutral=0.08, contradiction=0.02).entailment
    0.9
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

__all__ = [
    "Candidate",
    "Document",
    "Evidence",
    "NLIScores",
    "RankedResult",
    "RelevanceResult",
    "RerankResult",
    "SourceScore",
    "as_candidates",
    "as_documents",
    "check_text",
    "has_visible_text",
    "join_title",
]

# Tolerance on the sum of the three probabilities: softmax outputs in float32 sum to 1 within ~1e-6.
PROBABILITY_SUM_TOLERANCE = 1e-4


def join_title(title: str, text: str) -> str:
    """ "Title. Text": a full stop is added after a title that does not end in . ! ? or :."""
    separator = " " if title[-1] in ".!?:" else ". "
    return f"{title}{separator}{text}"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Document(_Record):
    """A passage that can be retrieved and reranked.

    Attributes:
        id: Unique identifier within its corpus.
        text: The passage body.
        title: Optional title; passage granularity reads "Title. Text"; sentence granularity follows the reranker's
            ``title`` setting (see rerank.segmenter).
        metadata: Free-form JSON-like data carried along untouched.
    """

    id: str
    text: str
    title: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _id_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("document id must be a non-empty string")
        return check_text("document id", value)

    @field_validator("text", "title")
    @classmethod
    def _valid_unicode(cls, value: str | None, info: ValidationInfo) -> str | None:
        return value if value is None else check_text(f"document {info.field_name}", value)

    @property
    def content(self) -> str:
        """Title and text joined as the reranker reads them ("Title. Text")."""
        if self.title and self.title.strip():
            title = self.title.strip()
            return join_title(title, self.text) if self.text.strip() else title
        return self.text


class SourceScore(_Record):
    """One retriever's own score and 1-based rank for a candidate."""

    score: float
    rank: int = Field(ge=1)


class Candidate(_Record):
    """A document proposed by a retriever, with that retriever's score and rank.

    Attributes:
        document: The retrieved document.
        retriever: Name of the retriever that produced it ("bm25", "dense", "hybrid", "input", ...).
        retriever_score: The retriever's score, or None when the candidate came without one.
        retriever_rank: 1-based rank in the retriever's list.
        sources: For fused candidates, each contributing retriever's name mapped to its own score and rank.
    """

    document: Document
    retriever: str = "input"
    retriever_score: float | None = None
    retriever_rank: int = Field(default=1, ge=1)
    sources: dict[str, SourceScore] = Field(default_factory=dict)

    @field_validator("retriever_score")
    @classmethod
    def _finite_score(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError(f"retriever_score must be finite, got {value!r}")
        return value


class NLIScores(_Record):
    """Entailment, neutral and contradiction probabilities of one (premise, hypothesis) pair."""

    entailment: float = Field(ge=0.0, le=1.0)
    neutral: float = Field(ge=0.0, le=1.0)
    contradiction: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _sums_to_one(self) -> NLIScores:
        total = self.entailment + self.neutral + self.contradiction
        if abs(total - 1.0) > PROBABILITY_SUM_TOLERANCE:
            raise ValueError(f"NLI probabilities must sum to 1 (within {PROBABILITY_SUM_TOLERANCE}), got {total}")
        return self

    @classmethod
    def from_row(cls, row: Sequence[float] | np.ndarray) -> NLIScores:
        """Build from one row of a (n, 3) score array ordered entailment, neutral, contradiction.

        Values are clipped to [0, 1] (float32 rounding); a NaN or infinite value raises ValueError.
        """
        values = [float(x) for x in row]
        if len(values) != 3 or not all(math.isfinite(x) for x in values):
            raise ValueError(f"expected 3 finite scores (entailment, neutral, contradiction), got {values}")
        entailment, neutral, contradiction = (min(1.0, max(0.0, x)) for x in values)
        return cls(entailment=entailment, neutral=neutral, contradiction=contradiction)


class Evidence(_Record):
    """The segment of a passage that best entails the hypothesis (sentence and window granularity)."""

    sentence: str
    index: int | None = Field(
        ge=0,
        description="0-based index of the sentence in the document's sentence split (rerank.segmenter); None for a "
        "segment that is none of its sentences, such as the title scored on its own",
    )
    span: tuple[int, int] | None = Field(
        default=None,
        description="character span [start, end) of the segment in document.text; None when it cannot be located "
        "(the title, or a given sentence that is not a substring of the text)",
    )
    entailment: float = Field(ge=0.0, le=1.0)


class RankedResult(_Record):
    """One ranked candidate: what every reranker and ``Pipeline.search`` return (retrieval-only results included).

    Attributes:
        candidate: The candidate as it came from the retriever.
        score: The value the results are ordered by; for retrieval-only results the retriever's score (None when
            the candidate came without one).
        rank: 1-based position; filtered-out candidates are ranked after every kept one.
        kept: False when a threshold filtered the candidate out.
    """

    candidate: Candidate
    score: float | None
    rank: int = Field(ge=1)
    kept: bool = True

    @property
    def document(self) -> Document:
        return self.candidate.document


class RerankResult(RankedResult):
    """A candidate after NLI reranking.

    Attributes:
        scores: NLI probabilities (for sentence granularity: max entailment and max contradiction over sentences).
        score: The value the results are ordered by (entailment, or the fused score when fusion is on).
        evidence: The best-entailing sentence when sentences were scored, else None.
    """

    scores: NLIScores
    score: float
    evidence: Evidence | None = None


class RelevanceResult(RankedResult):
    """A candidate after relevance (1-logit cross-encoder) reranking; ``score`` is the sigmoid probability."""

    score: float = Field(ge=0.0, le=1.0)


def check_text(name: str, value: str) -> str:
    """Raise ValueError when ``value`` holds a lone surrogate, which no tokenizer or UTF-8 file can take."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"{name} holds an unpaired surrogate {value[error.start]!r} at character {error.start}; "
            "text must be valid Unicode (decode bytes with errors='replace' first)"
        ) from None
    return value


def has_visible_text(text: str) -> bool:
    """True when ``text`` has a character that is neither whitespace nor an invisible format character
    (zero-width space, joiners, BOM, soft hyphen: Unicode category Cf)."""
    return any(not char.isspace() and unicodedata.category(char) != "Cf" for char in text)


def _unique(items: list, what: str) -> list:
    seen: dict[str, int] = {}
    for position, item in enumerate(items):
        document = item.document if isinstance(item, Candidate) else item
        if document.id in seen:
            raise ValueError(
                f"duplicate document id {document.id!r} among the {what} (positions {seen[document.id]} and "
                f"{position}); ids must be unique within a call (plain strings get their position as id, which can "
                "collide with a Document's)"
            )
        seen[document.id] = position
    return items


def _check_sequence(items: object, accepted: str) -> None:
    if isinstance(items, (str, bytes)):
        what = "a single string" if isinstance(items, str) else "bytes"
        raise TypeError(f"expected a list of {accepted}, got {what}; wrap it in a list")
    if isinstance(items, Mapping):
        raise TypeError(
            f"expected a list of {accepted}, got a {type(items).__name__} (iterating it would score its keys); "
            "pass list(your_dict.values()) or build Document(id=..., text=...) objects"
        )


def as_documents(items: Iterable[Document | str]) -> list[Document]:
    """Accept documents or plain strings; strings get their position ("0", "1", ...) as id.

    Raises:
        TypeError: A single string or a dict instead of a list, or an item that is neither a Document nor a str
            (None included), naming its position and type.
        ValueError: Two documents with the same id.
    """
    _check_sequence(items, "documents or strings")
    documents = []
    for position, item in enumerate(items):
        if isinstance(item, Document):
            documents.append(item)
        elif isinstance(item, str):
            documents.append(Document(id=str(position), text=item))
        elif isinstance(item, Candidate):
            documents.append(item.document)
        else:
            raise TypeError(f"document at position {position} must be a Document or str, got {type(item).__name__}")
    return _unique(documents, "documents")


def as_candidates(items: Iterable[Candidate | Document | str]) -> list[Candidate]:
    """Accept candidates, documents or strings; the latter two get their input order as retriever rank.

    Raises:
        TypeError: A single string or a dict instead of a list, or an item of another type, naming its position.
        ValueError: Two candidates with the same document id.
    """
    _check_sequence(items, "candidates, documents or strings")
    candidates = []
    for position, item in enumerate(items):
        if isinstance(item, Candidate):
            candidates.append(item)
        elif isinstance(item, (Document, str)):
            document = item if isinstance(item, Document) else Document(id=str(position), text=item)
            candidates.append(Candidate(document=document, retriever="input", retriever_rank=position + 1))
        else:
            raise TypeError(
                f"candidate at position {position} must be a Candidate, Document or str, got {type(item).__name__}"
            )
    return _unique(candidates, "candidates")
