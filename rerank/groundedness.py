"""Groundedness of generated answers: is each sentence of an answer supported by the passages it was generated from?

The answer is split into sentences (``rerank.sentences.split_sentences``, spans via
``rerank.segmenter.sentence_spans``), each a hypothesis; every passage is cut into segments by the reranker
(``reranker.segment``: windows of sentences by default here, each with its character span), each a premise. Every
(segment, sentence) pair of a call is scored in one ``score_pairs`` call, which the scorer runs in length-sorted
batches. As in SummaC-ZS, a sentence takes the maximum over segments: its entailment is that of its best-supporting
segment, its contradiction that of its most contradicting one.

The label rule (``label_sentences``), with e = the sentence's entailment and c = its contradiction:

- SUPPORTED when e >= ``min_entailment``: some passage entails it (a passage contradicting it as well is named in
  the reason: the passages conflict, and the answer followed one of them);
- CONTRADICTED when e < ``min_entailment`` and c > ``max_contradiction``;
- UNSUPPORTED otherwise: no segment entails it and none contradicts it.

A segment supports a sentence exactly when an ``NLIReranker.rerank`` with the same ``min_entailment`` keeps it, and
contradicts it exactly when ``max_contradiction`` filters it out, so the thresholds mean what they mean there. Unlike
``rerank.verify.decide`` (where the stronger side wins), support wins: an answer sentence is grounded when a passage
it came from entails it, and unrelated passages, which NLI models often score as contradictions, cannot overturn
that (docs/groundedness.md measures both rules). The answer's ``score`` is the mean of its sentences' entailments,
``min_score`` the weakest one, and the answer is ``fully_supported`` when every sentence is SUPPORTED.

Thresholds: given as arguments, else those of a calibration file (``calibration=``, or the one the reranker was built
with), else 0.5 and 0.5.

A sentence too long for the model (more tokens than the hypothesis budget, see ``sentence_budget``) is cut into
token windows of the budget (one every three quarters of it, like long passages) and each window is scored: the
sentence's entailment is the minimum over its windows (every part must be supported), its contradiction the maximum.
Nothing is truncated silently; ``SentenceCheck.parts`` says how many windows a sentence took.

Example:
    >>> result = groundedness("Paris is in France. It has 90 million people.",
    ...                       ["Paris is the capital of France."], model="path/to/nli-model")  # doctest: +SKIP
    >>> [(s.label, s.span) for s in result.sentences]  # doctest: +SKIP
    [('SUPPORTED', (0, 19)), ('UNSUPPORTED', (20, 46))]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from rerank.backends import LoadedModel
from rerank.nli_reranker import NLIReranker
from rerank.records import Candidate, Document
from rerank.segmenter import (
    DEFAULT_TITLE,
    DEFAULT_WINDOW_TOKENS,
    Segment,
    TokenOffsets,
    segment_document,
    sentence_spans,
    token_windows,
    word_offsets,
)
from rerank.sentences import split_sentences
from rerank.tasks import (
    DEFAULT_MAX_CONTRADICTION,
    DEFAULT_MIN_ENTAILMENT,
    EvidenceItem,
    ScorePairs,
    TaskRecord,
    check_pair_scores,
    check_premise_lists,
    check_probabilities,
    check_task_options,
    check_texts,
    evidence_item,
    task_reranker,
    task_thresholds,
    two_thresholds,
)
from rerank.validation import check_positive_int

if TYPE_CHECKING:
    from rerank.calibration import CalibrationFile

__all__ = [
    "DEFAULT_GRANULARITY",
    "DEFAULT_MAX_CONTRADICTION",
    "DEFAULT_MIN_ENTAILMENT",
    "GROUNDEDNESS_LABELS",
    "NO_PASSAGES",
    "Groundedness",
    "SentenceCheck",
    "groundedness",
    "groundedness_many",
    "label_sentences",
    "sentence_budget",
]

GROUNDEDNESS_LABELS = ("SUPPORTED", "CONTRADICTED", "UNSUPPORTED")
DEFAULT_GRANULARITY = "window"  # what a reranker built here from an id or path reads passages as
DEFAULT_MAX_LENGTH = 512  # the token budget assumed for a score_pairs callable given without a model
NO_PASSAGES = "no passages were given, so nothing supports the sentence"

Label = Literal["SUPPORTED", "CONTRADICTED", "UNSUPPORTED"]
PassagesInput = Sequence[Document | Candidate | str]
Span = tuple[int, int]


class SentenceCheck(TaskRecord):
    """One sentence of the answer and what the passages say about it.

    Attributes:
        text: The sentence as it stands in the answer.
        span: Its character span ``[start, end)`` in the answer.
        label: SUPPORTED, CONTRADICTED or UNSUPPORTED (the module docstring's rule).
        p_entailment: Entailment of its best-supporting segment (the weakest window's, for a sentence in parts).
        p_contradiction: Contradiction of its most contradicting segment.
        evidence: The best-supporting segment (passage id, text, span in the passage); None without passages.
        contradiction: The most contradicting segment; None without passages.
        parts: Token windows the sentence was scored in (more than 1 when it is longer than the hypothesis budget).
        reason: One sentence saying why, with the thresholds and the deciding segment.
    """

    text: str
    span: tuple[int, int]
    label: Label
    p_entailment: float = Field(ge=0.0, le=1.0)
    p_contradiction: float = Field(ge=0.0, le=1.0)
    evidence: EvidenceItem | None = None
    contradiction: EvidenceItem | None = None
    parts: int = Field(default=1, ge=1)
    reason: str


class Groundedness(TaskRecord):
    """How well the passages support an answer.

    Attributes:
        answer: The answer as given.
        score: Mean over sentences of their entailment (``SentenceCheck.p_entailment``).
        min_score: The weakest sentence's entailment.
        fully_supported: Every sentence is SUPPORTED.
        sentences: One check per sentence, in answer order.
        min_entailment: The threshold applied (entailment at which a segment supports a sentence).
        max_contradiction: The threshold applied (contradiction above which a segment contradicts it).
    """

    answer: str
    score: float = Field(ge=0.0, le=1.0)
    min_score: float = Field(ge=0.0, le=1.0)
    fully_supported: bool
    sentences: list[SentenceCheck]
    min_entailment: float = Field(ge=0.0, le=1.0)
    max_contradiction: float = Field(ge=0.0, le=1.0)

    @property
    def flagged(self) -> list[SentenceCheck]:
        """The sentences that are not SUPPORTED (unsupported or contradicted), in answer order."""
        return [sentence for sentence in self.sentences if sentence.label != "SUPPORTED"]


def label_sentences(
    p_entailment: Sequence[float] | np.ndarray,
    p_contradiction: Sequence[float] | np.ndarray,
    *,
    min_entailment: float = DEFAULT_MIN_ENTAILMENT,
    max_contradiction: float = DEFAULT_MAX_CONTRADICTION,
) -> list[Label]:
    """Label sentences from their entailment e and contradiction c (one value each per sentence).

    SUPPORTED when e >= min_entailment; CONTRADICTED when e < min_entailment and c > max_contradiction;
    UNSUPPORTED otherwise.

    Example:
        >>> label_sentences([0.9, 0.1, 0.2, 0.7], [0.05, 0.8, 0.1, 0.9])
        ['SUPPORTED', 'CONTRADICTED', 'UNSUPPORTED', 'SUPPORTED']

    Raises:
        ValueError: Arrays of different lengths, a value outside [0, 1] or NaN, a threshold outside [0, 1].
    """
    e = check_probabilities("p_entailment", p_entailment, "sentence")
    c = check_probabilities("p_contradiction", p_contradiction, "sentence")
    if e.shape != c.shape:
        raise ValueError(f"got {e.size} entailment but {c.size} contradiction probabilities")
    min_e, max_c = two_thresholds(min_entailment, max_contradiction)
    supported = e >= min_e
    contradicted = ~supported & (c > max_c)
    return [
        "SUPPORTED" if s else "CONTRADICTED" if k else "UNSUPPORTED"
        for s, k in zip(supported.tolist(), contradicted.tolist(), strict=True)
    ]


def sentence_budget(reranker: NLIReranker | None, max_sentence_tokens: int | None = None) -> int:
    """Tokens an answer sentence may take before it is cut into windows (the hypothesis budget).

    ``max_sentence_tokens`` when given; else max_length minus the pair's special tokens minus the premise's room:
    ``window_tokens`` at window granularity, half of max_length otherwise (for a score_pairs callable without a model:
    max_length 512 and the default window, counted in words).

    Raises:
        ValueError: A budget that leaves no room for a premise within the reranker's max_length.
    """
    if reranker is None:
        max_length, special, room = DEFAULT_MAX_LENGTH, 3, DEFAULT_WINDOW_TOKENS
    else:
        max_length = reranker.options.max_length
        tokenizer = reranker.model.tokenizer
        counter = getattr(tokenizer, "num_special_tokens_to_add", None)
        special = int(counter(pair=True)) if callable(counter) else 3
        room = reranker.window_tokens if reranker.granularity == "window" else max_length // 2
    if max_sentence_tokens is None:
        return max(1, max_length - special - room)
    budget = check_positive_int("max_sentence_tokens", max_sentence_tokens)
    if budget + special >= max_length:
        raise ValueError(
            f"max_sentence_tokens={budget} leaves no room for a passage within max_length={max_length}; "
            f"use at most {max_length - special - 1}"
        )
    return budget


def groundedness(
    answer: str,
    passages: PassagesInput,
    model: str | LoadedModel | NLIReranker | None = None,
    *,
    min_entailment: float | None = None,
    max_contradiction: float | None = None,
    calibration: str | Path | CalibrationFile | None = None,
    score_pairs: ScorePairs | None = None,
    max_sentence_tokens: int | None = None,
    language: str | None = None,
    **settings: Any,
) -> Groundedness:
    """Check every sentence of one answer against the passages it was generated from.

    Args:
        answer: The generated answer (split into sentences, the hypotheses, used as written: a reranker's
            ``hypothesis_template`` is not applied).
        passages: Strings or ``rerank.Document``s (or retrieved ``Candidate``s); strings get their position as id.
            An empty list is not an error: every sentence is UNSUPPORTED, with ``NO_PASSAGES`` as its reason, and no
            model is loaded or called.
        model: Hub id, local directory, ``LoadedModel`` or built ``NLIReranker``. One built here from an id, a path
            or a LoadedModel reads passages at ``granularity="window"`` unless ``settings`` say otherwise. None:
            ``rerank.DEFAULT_MODEL``, or no model at all when ``score_pairs`` is given.
        min_entailment: Entailment at which a segment supports a sentence (None: the calibration file's, else 0.5).
        max_contradiction: Contradiction above which a segment contradicts it (None: the file's, else 0.5).
        calibration: A calibration file (path or ``rerank.calibration.CalibrationFile``) whose thresholds fill
            those not given; a reranker built here applies its temperature, a built one must already apply it.
            None: the file the reranker was built with, if any.
        score_pairs: Optional ``(premises, hypotheses) -> (n, 3)`` probabilities (entailment, neutral,
            contradiction) used instead of the reranker's, e.g. ``eval.CachedScorer(reranker, path).score_pairs``.
            Without a model, passages are cut into windows of 256 words.
        max_sentence_tokens: The hypothesis budget (default: ``sentence_budget``'s).
        language: Language code for splitting the answer (``rerank.sentences.split_sentences``); None: English.
        **settings: ``NLIReranker`` keyword arguments when ``model`` is not a built reranker.

    Example:
        >>> result = groundedness("A man plays. He is famous.", ["A man is playing a guitar on stage."],
        ...                       model="path/to/nli-model")  # doctest: +SKIP
        >>> result.fully_supported, [s.label for s in result.flagged]  # doctest: +SKIP
        (False, ['UNSUPPORTED'])

    Raises:
        ValueError: An empty answer, an empty passage, duplicate passage ids, a threshold outside [0, 1].
        TypeError: An answer that is not a str, passages that are not a list, or a passage that is not a str or
            Document (naming its position).
    """
    if isinstance(answer, (list, tuple)):
        raise TypeError("groundedness checks one answer (a str); use groundedness_many for a list of answers")
    return groundedness_many(
        [answer], [passages], model, min_entailment=min_entailment, max_contradiction=max_contradiction,
        calibration=calibration, score_pairs=score_pairs, max_sentence_tokens=max_sentence_tokens, language=language,
        **settings,
    )[0]  # fmt: skip


@dataclass(frozen=True)
class _Part:
    """One token window of an answer sentence: its text and span in the answer."""

    text: str
    span: Span


@dataclass(frozen=True)
class _Sentence:
    """One sentence of an answer, its span in the answer, and the parts it is scored in (none without passages)."""

    text: str
    span: Span
    parts: list[_Part]


def groundedness_many(
    answers: Sequence[str],
    passages: Sequence[PassagesInput],
    model: str | LoadedModel | NLIReranker | None = None,
    *,
    min_entailment: float | None = None,
    max_contradiction: float | None = None,
    calibration: str | Path | CalibrationFile | None = None,
    score_pairs: ScorePairs | None = None,
    max_sentence_tokens: int | None = None,
    language: str | None = None,
    **settings: Any,
) -> list[Groundedness]:
    """``groundedness`` for many answers, ``passages[i]`` being answer i's, with every (segment, sentence) pair of
    every answer scored in one call (length-sorted batches). Arguments as for ``groundedness``.

    Example:
        >>> results = groundedness_many(["One.", "Two."], [["passage a", "b"], []], model=reranker)  # doctest: +SKIP
    """
    answers = check_texts(answers, "answers", "answer", alone="answer", empty_hint="pass the generated text to check")
    documents = check_premise_lists(passages, len(answers), "passages", "passage", "answer")
    record = check_task_options(min_entailment, max_contradiction, score_pairs, calibration)  # before any model loads
    if model is not None and not isinstance(model, (str, LoadedModel, NLIReranker)):
        raise TypeError(
            f"model must be a hub id, a directory, a LoadedModel or an NLIReranker, got {type(model).__name__}"
        )
    reranker = None
    if any(documents) or isinstance(model, NLIReranker):  # without passages no model is loaded, nothing is scored
        reranker = task_reranker(model, record, score_pairs is not None, settings, {"granularity": DEFAULT_GRANULARITY})
    min_e, max_c = task_thresholds(reranker, record, min_entailment, max_contradiction)
    budget = sentence_budget(reranker, max_sentence_tokens)
    segment = reranker.segment if reranker is not None else _windows
    offsets = reranker.token_offsets if reranker is not None else word_offsets
    pieces = [[(doc.id, s) for doc in docs for s in segment(doc)] for docs in documents]
    sentences = [
        [_Sentence(text, span, _parts(text, span, offsets, budget) if segments else []) for text, span in
         _split(answer, language)]
        for answer, segments in zip(answers, pieces, strict=True)
    ]  # fmt: skip
    premises = [s.text for segments, answer in zip(pieces, sentences, strict=True) for sentence in answer
                for _ in sentence.parts for _, s in segments]  # fmt: skip
    hypotheses = [part.text for segments, answer in zip(pieces, sentences, strict=True) for sentence in answer
                  for part in sentence.parts for _ in segments]  # fmt: skip
    score = score_pairs if score_pairs is not None else getattr(reranker, "score_pairs", None)
    scores = check_pair_scores(score(premises, hypotheses) if premises and score else np.empty((0, 3)), len(premises))
    results, start = [], 0
    for answer, answer_sentences, segments in zip(answers, sentences, pieces, strict=True):
        checks = []
        for sentence in answer_sentences:
            size = len(sentence.parts) * len(segments)
            block = scores[start : start + size].reshape(len(sentence.parts), len(segments), 3)
            start += size
            checks.append(_check(sentence, segments, block, min_e, max_c, budget))
        results.append(_groundedness(answer, checks, min_e, max_c))
    return results


def _split(answer: str, language: str | None) -> list[tuple[str, Span]]:
    """The answer's sentences with their spans (split_sentences gives stripped substrings in order: all found)."""
    texts = split_sentences(answer, language)
    spans = sentence_spans(answer, texts)
    return [(answer[span[0] : span[1]], span) for span in spans if span is not None]


def _windows(document: Document) -> list[Segment]:
    return segment_document(document, DEFAULT_GRANULARITY, DEFAULT_TITLE)


def _parts(text: str, span: Span, offsets: TokenOffsets, budget: int) -> list[_Part]:
    """The sentence itself when it fits the budget, else token windows of ``budget`` tokens every 3/4 budget."""
    if len(offsets(text)) <= budget:
        return [_Part(text, span)]
    return [_Part(w.text, w.span) for w in token_windows(Segment(text, None, span), offsets, budget) if w.span]


def _check(
    sentence: _Sentence, segments: list[tuple[str, Segment]], block: np.ndarray, min_e: float, max_c: float, budget: int
) -> SentenceCheck:
    """One sentence's check from its (parts, segments, 3) probabilities."""
    text, span = sentence.text, sentence.span
    if not segments:
        return SentenceCheck(text=text, span=span, label="UNSUPPORTED", p_entailment=0.0, p_contradiction=0.0,
                             reason=NO_PASSAGES)  # fmt: skip
    best_per_part = block[:, :, 0].max(axis=1)
    weakest = int(best_per_part.argmin())  # the part that decides the sentence's entailment
    supporting = int(block[weakest, :, 0].argmax())
    part, contradicting = np.unravel_index(int(block[:, :, 2].argmax()), block.shape[:2])
    e, c = float(best_per_part[weakest]), float(block[part, contradicting, 2])
    (label,) = label_sentences([e], [c], min_entailment=min_e, max_contradiction=max_c)
    evidence = evidence_item(segments[supporting], block[weakest, supporting])
    contradiction = evidence_item(segments[int(contradicting)], block[part, contradicting])
    reason = _reason(label, evidence, contradiction, e, c, min_e, max_c, len(segments))
    if len(block) > 1:
        reason += (f"; the sentence is longer than {budget} tokens, so it was scored in {len(block)} windows "
                   "(entailment: the weakest window's, contradiction: the strongest)")  # fmt: skip
    return SentenceCheck(text=text, span=span, label=label, p_entailment=e, p_contradiction=c, evidence=evidence,
                         contradiction=contradiction, parts=len(block), reason=reason)  # fmt: skip


def _where(item: EvidenceItem) -> str:
    place = f"chars {item.span[0]}-{item.span[1]}" if item.span is not None else "no span"
    return f"passage {item.document_id!r}, {place}"


def _reason(
    label: str, evidence: EvidenceItem, contradiction: EvidenceItem, e: float, c: float, min_e: float, max_c: float,
    segments: int,
) -> str:  # fmt: skip
    rule = f"min_entailment {min_e:g}, max_contradiction {max_c:g}"
    if label == "SUPPORTED":
        text = f"entailed with {e:.3f} by {_where(evidence)} ({rule})"
        return text + (f"; the passages conflict: {_where(contradiction)} contradicts it with {c:.3f}" if c > max_c
                       else "")  # fmt: skip
    if label == "CONTRADICTED":
        return (f"contradicted with {c:.3f} by {_where(contradiction)} and entailed by no segment of {segments} "
                f"({rule}; the strongest entailment is {e:.3f}, {_where(evidence)})")  # fmt: skip
    return (f"no segment of {segments} entails or contradicts it ({rule}): the strongest entailment is {e:.3f} "
            f"({_where(evidence)}), the strongest contradiction {c:.3f} ({_where(contradiction)})")  # fmt: skip


def _groundedness(answer: str, checks: list[SentenceCheck], min_e: float, max_c: float) -> Groundedness:
    entailments = [check.p_entailment for check in checks]
    return Groundedness(
        answer=answer, score=float(np.mean(entailments)), min_score=float(min(entailments)),
        fully_supported=all(check.label == "SUPPORTED" for check in checks), sentences=checks,
        min_entailment=min_e, max_contradiction=max_c,
    )  # fmt: skip
