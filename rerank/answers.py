"""QA answer ranking with an NLI model: which of the candidate answers to a question does the evidence entail?

A question cannot be entailed, so the hypothesis is always a statement built by a template:

- with a ``context``, the context is the premise and each answer makes its own hypothesis,
  ``answer_template.format(question=..., answer=...)`` (default ``"The answer to '{question}' is {answer}."``);
  the context is cut by the reranker's granularity (windows of sentences up to ``window_tokens`` tokens for a
  reranker built here, so a long context is read whole, window by window, never truncated);
- without a context, each answer text is the premise (cut the same way when it is long) and the hypothesis is built
  from the question alone, ``question_template.format(question=...)`` (default
  ``"This text answers the question '{question}'."``).

Every (segment, hypothesis) pair of a call goes through one ``score_pairs`` call (length-sorted batches). An answer
takes the probabilities of its best-entailing segment, which is its evidence (with its character span in the
context, or in the answer); answers are ranked by that entailment, then by lower contradiction, then as given.
For a 2-label model the non-entailment mass is reported as neutral and contradiction is 0 (``rerank.labels``).

Example:
    >>> ranked = rank_answers("Who wrote Hamlet?", ["Marlowe", "Shakespeare"],
    ...                       context="Hamlet is a tragedy written by William Shakespeare.", model="path/to/nli")
    ... # doctest: +SKIP
    >>> [(a.answer, a.rank) for a in ranked]  # doctest: +SKIP
    [('Shakespeare', 1), ('Marlowe', 2)]
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from pydantic import Field, model_validator

from rerank.backends import LoadedModel
from rerank.nli_reranker import NLIReranker
from rerank.records import Document, check_text, has_visible_text
from rerank.tasks import EvidenceItem, TaskRecord, check_texts, evidence_item, task_reranker

__all__ = [
    "CONTEXT_ID",
    "DEFAULT_ANSWER_TEMPLATE",
    "DEFAULT_QUESTION_TEMPLATE",
    "RankedAnswer",
    "rank_answers",
]

DEFAULT_ANSWER_TEMPLATE = "The answer to '{question}' is {answer}."
DEFAULT_QUESTION_TEMPLATE = "This text answers the question '{question}'."
DEFAULT_GRANULARITY = "window"  # what a reranker built here from an id or path reads the premise as
CONTEXT_ID = "context"  # the evidence's document_id when the context is the premise
SUM_TOLERANCE = 1e-4


class RankedAnswer(TaskRecord):
    """One candidate answer, its rank and what the premise says about its hypothesis.

    Attributes:
        answer: The answer as given.
        position: Its position in the list given.
        rank: 1 for the best answer.
        hypothesis: The statement that was scored.
        p_entailment: Probability that the evidence segment entails the hypothesis.
        p_neutral: Probability of neither (for a 2-label model: the non-entailment probability).
        p_contradiction: Probability that it contradicts the hypothesis (0 for a 2-label model).
        evidence: The best-entailing segment of the premise: of the context (document_id "context") or, without
            one, of the answer itself (document_id: the answer's position).
    """

    answer: str
    position: int = Field(ge=0)
    rank: int = Field(ge=1)
    hypothesis: str
    p_entailment: float = Field(ge=0.0, le=1.0)
    p_neutral: float = Field(ge=0.0, le=1.0)
    p_contradiction: float = Field(ge=0.0, le=1.0)
    evidence: EvidenceItem

    @model_validator(mode="after")
    def _sums_to_one(self) -> RankedAnswer:
        total = self.p_entailment + self.p_neutral + self.p_contradiction
        if abs(total - 1.0) > SUM_TOLERANCE:
            raise ValueError(f"p_entailment + p_neutral + p_contradiction must be 1, got {total}")
        return self


def rank_answers(
    question: str,
    answers: Sequence[str],
    context: str | None = None,
    model: str | LoadedModel | NLIReranker | None = None,
    *,
    answer_template: str = DEFAULT_ANSWER_TEMPLATE,
    question_template: str = DEFAULT_QUESTION_TEMPLATE,
    **settings: Any,
) -> list[RankedAnswer]:
    """Rank candidate answers to a question, best first (see the module docstring).

    Args:
        question: The question.
        answers: Candidate answers (a list of str; short spans with a context, answer passages without one). An empty
            list gives an empty result, and no model is loaded or called.
        context: The text the answers should be read from (the premise), or None.
        model: Hub id, local directory, ``LoadedModel`` or built ``NLIReranker`` (None: ``rerank.DEFAULT_MODEL``).
            One built here reads the premise at ``granularity="window"`` unless ``settings`` say otherwise; a built
            one cuts it by its own granularity.
        answer_template: With a context: the hypothesis, with the fields ``{question}`` and ``{answer}``.
        question_template: Without a context: the hypothesis, with the field ``{question}`` only.
        **settings: ``NLIReranker`` keyword arguments when ``model`` is not a built reranker.

    Returns:
        One ``RankedAnswer`` per answer, sorted by rank.

    Example:
        >>> rank_answers("Which planet is largest?", ["Mars", "Jupiter"],
        ...              context="Jupiter is the largest planet.", model=reranker)[0].answer  # doctest: +SKIP
        'Jupiter'

    Raises:
        ValueError: An empty question, an empty answer (its position named), an empty context, a template without
            its fields or with others.
        TypeError: A question or context that is not a str, answers that are not a list, an answer that is not a str.
    """
    question = _check_string("question", question)
    answers = check_texts(answers, "answers", "answer")
    if context is not None:
        context = _check_string("context", context)
    answer_template = _check_fields("answer_template", answer_template, {"question", "answer"})
    question_template = _check_fields("question_template", question_template, {"question"})
    if not answers:
        return []
    reranker = cast(NLIReranker, task_reranker(model, None, False, settings, {"granularity": DEFAULT_GRANULARITY}))
    if context is not None:
        segments = [(CONTEXT_ID, s) for s in reranker.segment(Document(id=CONTEXT_ID, text=context))]
        pieces = [segments for _ in answers]
        hypotheses = [answer_template.format(question=question, answer=answer) for answer in answers]
    else:
        pieces = [[(str(i), s) for s in reranker.segment(Document(id=str(i), text=a))] for i, a in enumerate(answers)]
        hypotheses = [question_template.format(question=question)] * len(answers)
    premises = [segment.text for segments in pieces for _, segment in segments]
    paired = [hypothesis for hypothesis, segments in zip(hypotheses, pieces, strict=True) for _ in segments]
    scores = np.asarray(reranker.score_pairs(premises, paired), dtype=np.float64)
    best, start = [], 0
    for segments in pieces:
        block = scores[start : start + len(segments)]
        start += len(segments)
        top = int(block[:, 0].argmax())
        best.append((segments[top], block[top]))
    order = sorted(range(len(answers)), key=lambda i: (-best[i][1][0], best[i][1][2], i))
    return [_ranked(answers[i], i, rank, hypotheses[i], *best[i]) for rank, i in enumerate(order, start=1)]


def _ranked(answer: str, position: int, rank: int, hypothesis: str, piece: Any, row: np.ndarray) -> RankedAnswer:
    row = np.clip(row, 0.0, 1.0)
    return RankedAnswer(
        answer=answer, position=position, rank=rank, hypothesis=hypothesis, p_entailment=float(row[0]),
        p_neutral=float(row[1]), p_contradiction=float(row[2]), evidence=evidence_item(piece, row),
    )  # fmt: skip


def _check_string(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not has_visible_text(value):
        raise ValueError(f"{name} is empty ({value!r})")
    return check_text(name, value)


def _check_fields(name: str, template: object, fields: set[str]) -> str:
    """A format string whose replacement fields are exactly ``fields`` (each at least once), named."""
    wanted = " and ".join("{" + field + "}" for field in sorted(fields, reverse=True))
    if not isinstance(template, str):
        raise TypeError(f"{name} must be a str with {wanted}, got {type(template).__name__}")
    try:
        found = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    except ValueError as error:
        raise ValueError(f"{name} {template!r} is not a valid format string ({error})") from None
    if found != fields:
        raise ValueError(
            f"{name} must contain {wanted} and no other {{...}} field, got {template!r} "
            "(write literal braces as {{ and }})"
        )
    return template
