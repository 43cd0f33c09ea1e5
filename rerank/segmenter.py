"""What a document becomes before scoring: the premises (segments) a reranker pairs with the query.

``passage`` granularity scores the whole document ("Title. Text"); ``sentence`` granularity scores each sentence.
The sentences are the document's own split when it brings one in ``metadata["sentences"]`` (a list of strings),
otherwise ``rerank.sentences.split_sentences`` of its text. This module is the one sentence source of the project:
the rerankers, the evaluation cache (pairs per document) and the fact-check metrics all read sentences here.

Title handling at sentence granularity (``title=``): ``"sentence"`` scores the title as one more segment before
the sentences, ``"prefix"`` prepends it to every sentence, ``"ignore"`` leaves it out (it is scored only when the
document has no text). docs/evaluation.md has the SciFact measurement behind the default.
"""

from __future__ import annotations

from dataclasses import dataclass

from rerank.records import Document, join_title
from rerank.sentences import split_sentences

__all__ = [
    "DEFAULT_GRANULARITY",
    "DEFAULT_TITLE",
    "GRANULARITIES",
    "TITLE_MODES",
    "Segment",
    "document_sentences",
    "given_sentences",
    "segment_document",
]

GRANULARITIES = ("passage", "sentence")
TITLE_MODES = ("sentence", "prefix", "ignore")
DEFAULT_GRANULARITY = "sentence"
DEFAULT_TITLE = "ignore"


@dataclass(frozen=True)
class Segment:
    """One premise cut from a document.

    Attributes:
        text: What the model reads.
        sentence: Index of the sentence it holds in ``document_sentences(document)``; None for the whole passage
            or a segment made of the title alone.
    """

    text: str
    sentence: int | None


def given_sentences(document: Document) -> list[str] | None:
    """The document's own sentence split (``metadata["sentences"]``), or None when it brings none.

    Raises:
        ValueError: ``metadata["sentences"]`` is present but not a list of strings.
    """
    given = document.metadata.get("sentences")
    if given is None:
        return None
    if not isinstance(given, list) or not all(isinstance(sentence, str) for sentence in given):
        raise ValueError(
            f"document {document.id!r}: metadata['sentences'] must be a list of strings, got "
            f"{type(given).__name__ if not isinstance(given, list) else 'a list with non-strings'}"
        )
    return given


def document_sentences(document: Document) -> list[str]:
    """The document text's sentences (its own split when given, blank entries kept so indices stay aligned)."""
    given = given_sentences(document)
    return given if given is not None else split_sentences(document.text)


def segment_document(document: Document, granularity: str, title: str = DEFAULT_TITLE) -> list[Segment]:
    """The premises of one document, never empty for a document with visible text or title."""
    if granularity == "passage":
        return [Segment(document.content, None)]
    sentences = [Segment(text, index) for index, text in enumerate(document_sentences(document)) if text.strip()]
    heading = (document.title or "").strip()
    if not sentences:
        return [Segment(document.content, None)]
    if not heading or title == "ignore":
        return sentences
    if title == "sentence":
        return [Segment(heading, None), *sentences]
    return [Segment(join_title(heading, segment.text), segment.sentence) for segment in sentences]
