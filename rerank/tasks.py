"""Machinery shared by the task calls (``rerank.verify``, ``rerank.groundedness``, ...): the evidence record, input
checks, and how a task resolves its model, calibration file and thresholds.

Every task takes ``model=`` as a hub id, a path, a loaded model or a built ``NLIReranker`` (``rerank.resolve``),
optionally a calibration file whose thresholds fill those not given as arguments, or a ``score_pairs`` callable
(for example an ``eval.CachedScorer``'s) that scores instead of the reranker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rerank.nli_reranker import NLIReranker
from rerank.ordering import check_scorable
from rerank.records import Candidate, Document, as_documents, check_text, has_visible_text
from rerank.resolve import as_nli_reranker
from rerank.segmenter import Segment
from rerank.validation import check_threshold

if TYPE_CHECKING:
    from rerank.calibration import CalibrationFile

__all__ = [
    "DEFAULT_MAX_CONTRADICTION",
    "DEFAULT_MIN_ENTAILMENT",
    "EvidenceItem",
    "ScorePairs",
    "TaskRecord",
    "calibration_file",
    "check_pair_scores",
    "check_premise_lists",
    "check_premises",
    "check_probabilities",
    "check_task_options",
    "check_texts",
    "evidence_item",
    "task_reranker",
    "task_thresholds",
    "two_thresholds",
]

DEFAULT_MIN_ENTAILMENT = 0.5
DEFAULT_MAX_CONTRADICTION = 0.5

ScorePairs = Callable[[Sequence[str], Sequence[str]], np.ndarray]


class TaskRecord(BaseModel):
    """Base of the task results: immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class EvidenceItem(TaskRecord):
    """One segment of an evidence document (or passage) and its NLI probabilities against the hypothesis.

    Attributes:
        document_id: The document's id (a plain string's position in its list: "0", "1", ...).
        text: The segment as the model read it.
        sentence: Index of its first sentence in the document's sentence split (rerank.segmenter); None for a
            whole passage or a title scored alone.
        span: Character span ``[start, end)`` of the segment in the document's text; None when it cannot be located.
        p_entailment: Probability that the segment entails the hypothesis.
        p_contradiction: Probability that it contradicts the hypothesis.
    """

    document_id: str
    text: str
    sentence: int | None = Field(default=None, ge=0)
    span: tuple[int, int] | None = None
    p_entailment: float = Field(ge=0.0, le=1.0)
    p_contradiction: float = Field(ge=0.0, le=1.0)


def evidence_item(piece: tuple[str, Segment], row: np.ndarray) -> EvidenceItem:
    """The record of one (document id, segment) and its probability row (entailment, neutral, contradiction)."""
    doc_id, segment = piece
    return EvidenceItem(document_id=doc_id, text=segment.text, sentence=segment.sentence, span=segment.span,
                        p_entailment=float(row[0]), p_contradiction=float(row[2]))  # fmt: skip


def check_probabilities(name: str, values: Sequence[float] | np.ndarray, per: str) -> np.ndarray:
    """A 1-D array of probabilities in [0, 1] (one ``per`` item), or a ValueError naming the first bad one."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one probability per {per} (1-D), got shape {array.shape}")
    bad = np.flatnonzero(~((array >= 0.0) & (array <= 1.0)))  # NaN fails both comparisons
    if bad.size:
        raise ValueError(f"{name} must hold probabilities in [0, 1]; position {bad[0]} is {array[bad[0]]!r}")
    return array


def two_thresholds(min_entailment: object, max_contradiction: object) -> tuple[float, float]:
    """Both thresholds checked as probabilities; None is an error here (resolve defaults first)."""
    values = []
    for name, value in (("min_entailment", min_entailment), ("max_contradiction", max_contradiction)):
        checked = check_threshold(name, value)
        if checked is None:
            raise TypeError(f"{name} must be a probability in [0, 1], got None")
        values.append(checked)
    return values[0], values[1]


def check_texts(value: object, name: str, item: str, *, alone: str | None = None, empty_hint: str = "") -> list[str]:
    """A list of non-empty strings (texts to classify, answers, labels), ``name`` naming the list and ``item`` each
    entry by position in every error ("answer at position 2 is empty"); ``alone`` names a single entry instead.

    Raises:
        TypeError: Not a list (a bare str is refused: wrap it in a list), or an entry that is not a str.
        ValueError: An empty or whitespace-only entry, or one with text the tokenizer cannot take.
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        what = f"a single string {value!r} (wrap it in a list)" if isinstance(value, str) else type(value).__name__
        raise TypeError(f"{name} must be a list of str, got {what}")
    for position, text in enumerate(value):
        where = alone if alone is not None and len(value) == 1 else f"{item} at position {position}"
        if not isinstance(text, str):
            raise TypeError(f"{where} must be a str, got {type(text).__name__}")
        if not has_visible_text(text):
            raise ValueError(f"{where} is empty ({text!r})" + (f"; {empty_hint}" if empty_hint else ""))
        check_text(where, text)
    return list(value)


def check_premises(items: object, owner: str) -> list[Document]:
    """A list of strings / Documents / Candidates as Documents, ``owner`` ("evidence", "passage of answer 2", ...)
    naming the list in every error.

    Raises:
        TypeError: Not a list, or an item of another type (its position named).
        ValueError: An empty item, duplicate ids, a document with nothing to score.
    """
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        what = "a single string (wrap it in a list)" if isinstance(items, str) else type(items).__name__
        raise TypeError(f"{owner} must be a list of str or Document, got {what}")
    for position, item in enumerate(items):
        if not isinstance(item, (str, Document, Candidate)):
            raise TypeError(f"{owner} at position {position} must be a str or Document, got {type(item).__name__}")
        if isinstance(item, str) and not has_visible_text(item):
            raise ValueError(f"{owner} at position {position} is empty")
    documents = as_documents(items)
    check_scorable(documents)
    return documents


def check_premise_lists(value: object, n: int, plural: str, singular: str, per: str) -> list[list[Document]]:
    """One list of premises per hypothesis text (``n`` of them), each checked by ``check_premises``; the names say
    what they are in errors: plural "passages", singular "passage", per "answer" -> "passage of answer 2"."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{plural} must be a list with one list of {plural} per {per}, got {type(value).__name__}")
    if len(value) != n:
        raise ValueError(f"{plural} must hold one list per {per}: {n} {per}s, got {len(value)} lists")
    return [check_premises(items, singular if n == 1 else f"{singular} of {per} {i}") for i, items in enumerate(value)]


def check_task_options(
    min_entailment: object, max_contradiction: object, score_pairs: object, calibration: object
) -> CalibrationFile | None:
    """The checks a task call makes before any model loads: both thresholds, ``score_pairs`` callable or None; returns
    the calibration file read (or None)."""
    for name, value in (("min_entailment", min_entailment), ("max_contradiction", max_contradiction)):
        check_threshold(name, value)
    if score_pairs is not None and not callable(score_pairs):
        raise TypeError(f"score_pairs must be a callable (premises, hypotheses) -> (n, 3), got {score_pairs!r}")
    return calibration_file(calibration)


def check_pair_scores(scores: object, n: int) -> np.ndarray:
    """What a ``score_pairs`` callable returned, as (n, 3) finite probabilities (clipped to [0, 1])."""
    array = np.asarray(scores, dtype=np.float64)
    if array.shape != (n, 3):
        raise ValueError(f"score_pairs must return ({n}, 3) probabilities for {n} pairs, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("score_pairs returned a NaN or infinite probability")
    return np.clip(array, 0.0, 1.0)


def calibration_file(calibration: object) -> CalibrationFile | None:
    """A calibration file from a path or a loaded ``CalibrationFile`` (None stays None)."""
    if calibration is None:
        return None
    from rerank.calibration import CalibrationFile, load_calibration

    if isinstance(calibration, (str, Path)):
        return load_calibration(calibration)
    if isinstance(calibration, CalibrationFile):
        return calibration
    raise TypeError(f"calibration must be a calibration file path or a CalibrationFile, got {calibration!r}")


def task_reranker(
    model: object,
    record: CalibrationFile | None,
    has_scorer: bool,
    settings: dict[str, Any],
    defaults: dict[str, Any] | None = None,
) -> NLIReranker | None:
    """The reranker that segments and scores for a task: None when a ``score_pairs`` callable is given without a
    model; a built reranker as it is (it must already apply the file's temperature); else one built from ``model``
    with the task's ``defaults``, the caller's ``settings`` over them, and the file's calibration.
    """
    if model is None and has_scorer:
        if settings:
            raise ValueError(f"{sorted(settings)} need a model to build a reranker with; pass model=")
        return None
    if isinstance(model, NLIReranker):
        as_nli_reranker(model, **settings)  # refuses settings for an already built reranker
        applied = getattr(model.calibration, "temperature", None)
        wanted = getattr(getattr(record, "calibration", None), "temperature", None)
        if record is not None and applied != wanted:
            raise ValueError(
                f"the calibration file's thresholds hold for probabilities at temperature {wanted}, but the reranker "
                f"given applies {applied}; build it with NLIReranker(..., calibration=<the file>), or pass a model "
                "id or path"
            )
        return model
    settings = {**(defaults or {}), **settings}
    if record is not None:
        settings["calibration"] = record
    return as_nli_reranker(model, **settings)  # type: ignore[arg-type]


def task_thresholds(
    reranker: NLIReranker | None, record: CalibrationFile | None, min_entailment: object, max_contradiction: object
) -> tuple[float, float]:
    """The thresholds: those given, else the calibration file's (given, or the reranker's), else 0.5 each."""
    record = record or getattr(reranker, "calibration_file", None)
    chosen = record.threshold_values() if record is not None else {}
    return two_thresholds(
        chosen.get("min_entailment", DEFAULT_MIN_ENTAILMENT) if min_entailment is None else min_entailment,
        chosen.get("max_contradiction", DEFAULT_MAX_CONTRADICTION) if max_contradiction is None else max_contradiction,
    )
