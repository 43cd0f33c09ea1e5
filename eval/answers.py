"""QA answer ranking metrics: where does the right answer land among the candidates?

A QA set is JSONL, one question a line: ``{"id", "question", "answer", "wrong": [...], "context"}`` (the right
answer, the wrong ones, and the paragraph the answer is read from; tests/data/qa_answers.jsonl is the hand-written
set of docs/tasks.md). Each question's candidates are the right answer and the wrong ones in an order shuffled by
the question's id (the same on every run), so a system that keeps the order given gains nothing.

A system is a callable ``score(question, candidates, context) -> one score per candidate`` (higher is better), for
example one built on ``rerank.rank_answers``; eval never loads a model. Ties count against the right answer (it
ranks after every candidate scoring the same), so a constant score gets accuracy@1 0.

Metrics over questions:
- accuracy@1 = share of questions whose right answer ranks first;
- MRR = mean of 1 / rank of the right answer.

Example:
    >>> items = [QAItem(id="q", question="?", answer="a", wrong=["b"], context="a.")]
    >>> evaluate_answers(items, lambda q, answers, c: [float(a == "a") for a in answers]).accuracy_at_1
    1.0
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["AnswerReport", "QAItem", "candidates", "evaluate_answers", "load_qa_set", "right_answer_rank"]

AnswerScorer = Callable[[str, list[str], str | None], Sequence[float]]


class QAItem(BaseModel):
    """One question of a QA set, its right answer, the wrong ones and its context paragraph."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    wrong: list[str] = Field(min_length=1)
    context: str = Field(min_length=1)

    @model_validator(mode="after")
    def _right_is_not_wrong(self) -> QAItem:
        if self.answer in self.wrong or len(set(self.wrong)) != len(self.wrong):
            raise ValueError(f"question {self.id!r}: the candidates must be distinct, got {self.answer!r} and "
                             f"{self.wrong}")  # fmt: skip
        return self


@dataclass(frozen=True)
class AnswerReport:
    """accuracy@1 and MRR of the right answer over ``questions`` questions, and each question's rank of it."""

    questions: int
    accuracy_at_1: float
    mrr: float
    ranks: dict[str, int]


def load_qa_set(path: str | Path) -> list[QAItem]:
    """The questions of a JSONL QA set (ValueError naming the line of a malformed one or a repeated id)."""
    items: list[QAItem] = []
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                items.append(QAItem.model_validate(json.loads(line)))
            except ValueError as error:  # json.JSONDecodeError and pydantic's ValidationError are ValueErrors
                raise ValueError(f"{path} line {number}: {error}") from None
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: question ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
    return items


def candidates(item: QAItem) -> list[str]:
    """The right and wrong answers in the order shuffled by the question's id (deterministic)."""
    shuffled = [item.answer, *item.wrong]
    random.Random(item.id).shuffle(shuffled)
    return shuffled


def right_answer_rank(scores: Sequence[float], right: int) -> int:
    """1 + the number of candidates scoring at least as high as the right one (``right``: its position).

    Example:
        >>> right_answer_rank([0.2, 0.9, 0.2], 0)
        3
    """
    if len(scores) <= right:
        raise ValueError(f"got {len(scores)} scores for a right answer at position {right}")
    mine = float(scores[right])
    return 1 + sum(1 for position, score in enumerate(scores) if position != right and float(score) >= mine)


def evaluate_answers(items: Sequence[QAItem], score: AnswerScorer, *, use_context: bool = True) -> AnswerReport:
    """accuracy@1 and MRR of ``score`` on the QA set (``use_context=False``: the system gets None as context)."""
    if not items:
        raise ValueError("the QA set is empty")
    ranks = {}
    for item in items:
        shown = candidates(item)
        scores = list(score(item.question, shown, item.context if use_context else None))
        if len(scores) != len(shown):
            raise ValueError(f"question {item.id!r}: {len(shown)} candidates but {len(scores)} scores")
        ranks[item.id] = right_answer_rank(scores, shown.index(item.answer))
    values = list(ranks.values())
    return AnswerReport(
        questions=len(values), accuracy_at_1=sum(rank == 1 for rank in values) / len(values),
        mrr=sum(1.0 / rank for rank in values) / len(values), ranks=ranks,
    )  # fmt: skip
