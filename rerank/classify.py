"""Zero-shot classification with an NLI model: which of the given labels does each text belong to?

Each text is the premise and ``template.format(label)`` ("This example is sports.") the hypothesis, one pair per
(text, label); every pair of a call goes through one ``NLIReranker.pair_logits`` call, which the scorer runs in
length-sorted batches. The scores are those of the transformers zero-shot-classification pipeline:

- single-label (``multi_label=False``, two labels or more): softmax over the labels of the entailment logits, so a
  text's scores sum to 1;
- multi-label, or a single label: for each label on its own, softmax of (contradiction, entailment) logits, i.e.
  P(entailment | entailment or contradiction); the scores of a text do not sum to 1.

Unlike the pipeline, which assumes the contradiction logit is the first (or the last when entailment is first), the
contradiction index is read from the model's label map (``config.id2label``, or ``labels=`` when the reranker is
built), so models ordered entailment, neutral, contradiction (the mDeBERTa XNLI family) score as intended. A 2-label
model (entailment, not_entailment) has no contradiction logit: its non-entailment logit takes that role, so the
multi-label score is the model's own P(entailment) (what the pipeline computes for such a model too).

Each text is scored whole, as the pipeline does: a text longer than the model's ``max_length`` is truncated (the
label's hypothesis never is) and the truncation is logged. The reranker's granularity and ``hypothesis_template``
do not apply here; a calibration temperature it was built with divides the logits first (none: the pipeline's
scores exactly).

Example:
    >>> result = classify(["The striker scored twice."], ["sports", "politics"], model="path/to/nli-model")
    ... # doctest: +SKIP
    >>> result[0].label, result[0].scores  # doctest: +SKIP
    ('sports', [0.97, 0.03])
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from pydantic import model_validator

from rerank.backends import LoadedModel
from rerank.head import softmax
from rerank.nli_reranker import NLIReranker
from rerank.tasks import TaskRecord, check_texts, task_reranker

__all__ = ["DEFAULT_CLASSIFY_TEMPLATE", "Classification", "check_labels", "classify", "label_scores"]

DEFAULT_CLASSIFY_TEMPLATE = "This example is {}."  # the transformers pipeline's default


class Classification(TaskRecord):
    """The labels of one text, best first.

    Attributes:
        text: The text as given.
        labels: Every label given, sorted by score (highest first; ties keep the order given).
        scores: The score of each label in ``labels``, same order (see the module docstring).
        multi_label: Whether labels were scored independently (scores need not sum to 1).
    """

    text: str
    labels: list[str]
    scores: list[float]
    multi_label: bool

    @model_validator(mode="after")
    def _check_scores(self) -> Classification:
        if len(self.labels) != len(self.scores):
            raise ValueError(f"{len(self.labels)} labels but {len(self.scores)} scores")
        if any(not 0.0 <= score <= 1.0 for score in self.scores):
            raise ValueError(f"scores must be probabilities in [0, 1], got {self.scores}")
        if any(a < b for a, b in zip(self.scores, self.scores[1:], strict=False)):
            raise ValueError(f"scores must be sorted highest first, got {self.scores}")
        return self

    @property
    def label(self) -> str:
        """The best label."""
        return self.labels[0]

    def score(self, label: str) -> float:
        """The score of one label (KeyError naming the labels when it was not given)."""
        try:
            return self.scores[self.labels.index(label)]
        except ValueError:
            raise KeyError(f"label {label!r} was not classified; the labels are {self.labels}") from None


def classify(
    texts: Sequence[str],
    labels: Sequence[str],
    model: str | LoadedModel | NLIReranker | None = None,
    *,
    template: str = DEFAULT_CLASSIFY_TEMPLATE,
    multi_label: bool = False,
    **settings: Any,
) -> list[Classification]:
    """Classify texts into the given labels (zero-shot, with an NLI model).

    Args:
        texts: The texts to classify (a list; each a premise). An empty list gives an empty result, and no model is
            loaded or called.
        labels: Candidate labels, at least one, none empty, no duplicates.
        model: Hub id, local directory, ``LoadedModel`` or built ``NLIReranker`` (None: ``rerank.DEFAULT_MODEL``).
        template: Format string with exactly one ``{}`` turning a label into the hypothesis.
        multi_label: Score each label on its own (entailment vs contradiction) instead of a softmax across labels.
        **settings: ``NLIReranker`` keyword arguments when ``model`` is not a built reranker (``backend``,
            ``precision``, ``max_length``, ``labels`` for LABEL_0.. configs, ``calibration``, ...).

    Returns:
        One ``Classification`` per text, in input order.

    Example:
        >>> classify(["I loved this film."], ["positive", "negative"], model=reranker)[0].label  # doctest: +SKIP
        'positive'

    Raises:
        ValueError: No labels, an empty or duplicate label, a template without exactly one ``{}``, an empty text.
        TypeError: texts or labels not a list of str (a single str included), multi_label not a bool.
    """
    texts = check_texts(texts, "texts", "text")
    names = check_labels(labels)
    template = _check_template(template)
    if not isinstance(multi_label, bool):
        raise TypeError(f"multi_label must be True or False, got {multi_label!r}")
    if not texts:
        return []
    reranker = cast(NLIReranker, task_reranker(model, None, False, settings))  # None only for a score_pairs callable
    hypotheses = [template.format(name) for name in names]
    logits = reranker.pair_logits([t for t in texts for _ in names], [h for _ in texts for h in hypotheses])
    temperature = reranker.calibration.temperature if reranker.calibration is not None else 1.0
    logits = np.asarray(logits, dtype=np.float64).reshape(len(texts), len(names), -1) / temperature
    label_map = reranker.label_map
    against = label_map.contradiction  # a 2-label model's non-entailment logit plays its part
    if against is None:
        against = label_map.other if label_map.other is not None else 1 - label_map.entailment
    scores = label_scores(logits[..., label_map.entailment], logits[..., against], multi_label=multi_label)
    return [_classification(text, names, row, multi_label) for text, row in zip(texts, scores, strict=True)]


def label_scores(entailment: np.ndarray, contradiction: np.ndarray, *, multi_label: bool = False) -> np.ndarray:
    """Scores (texts, labels) from the entailment and contradiction logits of each (text, label) pair.

    Single-label with two labels or more: ``softmax_labels(entailment)``; otherwise, per pair,
    ``exp(e) / (exp(e) + exp(c))``, the softmax of (contradiction, entailment).

    Example:
        >>> label_scores(np.array([[2.0, 0.0]]), np.array([[0.0, 1.0]])).round(3).tolist()
        [[0.881, 0.119]]
        >>> label_scores(np.array([[2.0, 0.0]]), np.array([[0.0, 1.0]]), multi_label=True).round(3).tolist()
        [[0.881, 0.269]]
    """
    entailment = np.asarray(entailment, dtype=np.float64)
    contradiction = np.asarray(contradiction, dtype=np.float64)
    if entailment.ndim != 2 or entailment.shape != contradiction.shape:
        raise ValueError(
            f"entailment and contradiction logits must both be (texts, labels), got {entailment.shape} and "
            f"{contradiction.shape}"
        )
    if multi_label or entailment.shape[1] == 1:
        pairs = np.stack([contradiction, entailment], axis=-1).reshape(-1, 2)
        return softmax(pairs)[:, 1].reshape(entailment.shape)
    return softmax(entailment) if entailment.size else entailment


def check_labels(labels: object) -> list[str]:
    """The candidate labels as a list: at least one, each a non-empty str, no duplicates (positions named)."""
    checked = check_texts(labels, "labels", "label")
    if not checked:
        raise ValueError("labels is empty; pass at least one candidate label")
    seen: dict[str, int] = {}
    for position, label in enumerate(checked):
        if label in seen:
            raise ValueError(f"label {label!r} is given twice (positions {seen[label]} and {position})")
        seen[label] = position
    return checked


def _check_template(template: object) -> str:
    """A str with exactly one ``{}`` and no other replacement field."""
    if not isinstance(template, str):
        raise TypeError(f"template must be a str with one '{{}}', got {type(template).__name__}")
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as error:
        raise ValueError(f"template {template!r} is not a valid format string ({error})") from None
    if fields != [""]:
        raise ValueError(
            f"template must contain exactly one '{{}}' (where the label goes) and no other {{...}} field, got "
            f"{template!r} (write literal braces as {{{{ and }}}})"
        )
    return template


def _classification(text: str, names: list[str], row: np.ndarray, multi_label: bool) -> Classification:
    order = np.argsort(-row, kind="stable")
    scores = [min(1.0, max(0.0, float(row[i]))) for i in order]
    return Classification(text=text, labels=[names[i] for i in order], scores=scores, multi_label=multi_label)
