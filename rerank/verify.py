"""Fact-checking: is a claim supported, refuted, or not decided by the evidence given?

The claim is the hypothesis and each evidence segment a premise (the reranker's direction, see rerank.nli_reranker).
Evidence documents are cut by the reranker's own granularity: sentences by default, windows of sentences when it
is built with ``granularity="window"``, whole passages with ``"passage"``; every segment keeps its character span in
its document's text.

The aggregation rule (``decide``), over every segment of every evidence document:

- a segment *supports* the claim when its entailment >= ``min_entailment``, and *refutes* it when its contradiction
  > ``max_contradiction`` (exactly the segments an ``NLIReranker.rerank`` with these thresholds would keep for
  entailment / filter out for contradiction, so thresholds calibrated for filtering apply here unchanged);
- SUPPORTS when some segment supports and none refutes more strongly (the strongest entailment >= the strongest
  contradiction); REFUTES when some segment refutes and none supports more strongly; NOT_ENOUGH_INFO otherwise;
- confidence: the strongest entailment for SUPPORTS, the strongest contradiction for REFUTES, and for
  NOT_ENOUGH_INFO one minus the strongest entailment or contradiction of any segment (1.0 with no evidence at all);
- the verdict's evidence: the segments that decided it (supporting ones for SUPPORTS, refuting ones for REFUTES),
  strongest first; none for NOT_ENOUGH_INFO, whose ``reason`` names the closest segment instead.

Thresholds: given as arguments, else those of a calibration file (``calibration=``, or the one the reranker was built
with; ``rerank calibrate`` chooses ``min_entailment`` / ``max_contradiction`` on labelled pairs and the reranker
applies the file's temperature, so thresholds and probabilities match), else 0.5 and 0.5. Thresholds chosen for
fact-checking on labelled claims (benchmarks/factcheck.py) are given as arguments.

Example:
    >>> verdict = verify("Aspirin prevents heart attacks.", ["Aspirin cut infarctions by 44%."],
    ...                  model="path/to/nli-model")  # doctest: +SKIP
    >>> verdict.label, round(verdict.confidence, 2), verdict.evidence[0].span  # doctest: +SKIP
    ('SUPPORTS', 0.93, (0, 31))
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
from rerank.segmenter import DEFAULT_GRANULARITY, DEFAULT_TITLE, Segment, segment_document
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

if TYPE_CHECKING:
    from rerank.calibration import CalibrationFile

__all__ = [
    "DEFAULT_MAX_CONTRADICTION",
    "DEFAULT_MIN_ENTAILMENT",
    "VERDICT_LABELS",
    "Decision",
    "EvidenceItem",
    "Verdict",
    "decide",
    "verify",
    "verify_many",
]

VERDICT_LABELS = ("SUPPORTS", "REFUTES", "NOT_ENOUGH_INFO")

Label = Literal["SUPPORTS", "REFUTES", "NOT_ENOUGH_INFO"]
EvidenceInput = Sequence[Document | Candidate | str]


class Verdict(TaskRecord):
    """What the evidence says about a claim (see the module docstring for the rule).

    Attributes:
        claim: The claim as given.
        label: SUPPORTS, REFUTES or NOT_ENOUGH_INFO.
        confidence: The probability the label rests on (see the module docstring).
        reason: One sentence saying why, with the thresholds and the deciding (or closest) segment.
        evidence: The segments that decided the label, strongest first (empty for NOT_ENOUGH_INFO).
        max_entailment: The strongest entailment of any segment (0.0 without evidence).
        max_contradiction: The strongest contradiction of any segment (0.0 without evidence).
    """

    claim: str
    label: Label
    confidence: float = Field(ge=0.0, le=1.0)
    reason: str
    evidence: list[EvidenceItem] = Field(default_factory=list)
    max_entailment: float = Field(default=0.0, ge=0.0, le=1.0)
    max_contradiction: float = Field(default=0.0, ge=0.0, le=1.0)


@dataclass(frozen=True)
class Decision:
    """``decide``'s outcome: the label, its confidence, and the positions of the deciding segments, strongest first."""

    label: Label
    confidence: float
    evidence: tuple[int, ...]


def decide(
    p_entailment: Sequence[float] | np.ndarray,
    p_contradiction: Sequence[float] | np.ndarray,
    *,
    min_entailment: float = DEFAULT_MIN_ENTAILMENT,
    max_contradiction: float = DEFAULT_MAX_CONTRADICTION,
) -> Decision:
    """Label a claim from its segments' entailment and contradiction probabilities (the module docstring's rule).

    With e = max entailment and c = max contradiction: SUPPORTS when e >= min_entailment and (c <= max_contradiction
    or e >= c); REFUTES when c > max_contradiction and (e < min_entailment or c > e); NOT_ENOUGH_INFO otherwise.

    Example:
        >>> decide([0.9, 0.2], [0.05, 0.1]).label
        'SUPPORTS'
        >>> decide([0.1, 0.2], [0.6, 0.9], max_contradiction=0.5)
        Decision(label='REFUTES', confidence=0.9, evidence=(1, 0))

    Raises:
        ValueError: Arrays of different lengths, a value outside [0, 1] or NaN, a threshold outside [0, 1].
    """
    entail = check_probabilities("p_entailment", p_entailment, "segment")
    contra = check_probabilities("p_contradiction", p_contradiction, "segment")
    if entail.shape != contra.shape:
        raise ValueError(f"got {entail.size} entailment but {contra.size} contradiction probabilities")
    min_e, max_c = two_thresholds(min_entailment, max_contradiction)
    e = float(entail.max()) if entail.size else 0.0
    c = float(contra.max()) if contra.size else 0.0
    supports, refutes = entail.size > 0 and e >= min_e, contra.size > 0 and c > max_c
    if supports and (not refutes or e >= c):
        chosen = np.flatnonzero(entail >= min_e)
        return Decision("SUPPORTS", e, tuple(int(i) for i in chosen[np.argsort(-entail[chosen], kind="stable")]))
    if refutes:
        chosen = np.flatnonzero(contra > max_c)
        return Decision("REFUTES", c, tuple(int(i) for i in chosen[np.argsort(-contra[chosen], kind="stable")]))
    return Decision("NOT_ENOUGH_INFO", 1.0 - max(e, c), ())


def verify(
    claim: str,
    evidence: EvidenceInput,
    model: str | LoadedModel | NLIReranker | None = None,
    *,
    min_entailment: float | None = None,
    max_contradiction: float | None = None,
    calibration: str | Path | CalibrationFile | None = None,
    score_pairs: ScorePairs | None = None,
    **settings: Any,
) -> Verdict:
    """Check one claim against its evidence.

    Args:
        claim: The statement to check (the hypothesis; the reranker's ``hypothesis_template`` applies if it has one).
        evidence: Strings or ``rerank.Document``s (or retrieved ``Candidate``s); an empty list gives a
            NOT_ENOUGH_INFO verdict with confidence 1.0 and a reason saying so.
        model: Hub id, local directory, ``LoadedModel`` or built ``NLIReranker`` (``rerank.resolve.as_nli_reranker``;
            None: ``rerank.DEFAULT_MODEL``, or no model at all when ``score_pairs`` is given).
        min_entailment: Entailment at which a segment supports the claim (None: the calibration file's, else 0.5).
        max_contradiction: Contradiction above which a segment refutes the claim (None: the file's, else 0.5).
        calibration: A calibration file (path or ``rerank.calibration.CalibrationFile``) whose thresholds fill
            those not given; a reranker built here applies its temperature, a built one must already apply it.
            None: the file the reranker was built with, if any.
        score_pairs: Optional ``(premises, hypotheses) -> (n, 3)`` probabilities (entailment, neutral,
            contradiction) used instead of the reranker's own scoring, e.g. ``eval.CachedScorer(reranker,
            path).score_pairs`` to keep scores on disk. Without a model, evidence is cut into sentences.
        **settings: ``NLIReranker`` keyword arguments when ``model`` is not a built reranker (``granularity``, ...).

    Example:
        >>> verify("A man plays guitar.", ["A man is on stage with a guitar."], model="path/to/nli")  # doctest: +SKIP

    Raises:
        ValueError: An empty claim, an evidence item without text, a threshold outside [0, 1].
        TypeError: A claim that is not a str, evidence that is not a list, or an item that is not a str or Document
            (naming its position).
    """
    if isinstance(claim, (list, tuple)):
        raise TypeError("verify checks one claim (a str); use verify_many for a list of claims")
    return verify_many(
        [claim], [evidence], model, min_entailment=min_entailment, max_contradiction=max_contradiction,
        calibration=calibration, score_pairs=score_pairs, **settings,
    )[0]  # fmt: skip


def verify_many(
    claims: Sequence[str],
    evidence: Sequence[EvidenceInput],
    model: str | LoadedModel | NLIReranker | None = None,
    *,
    min_entailment: float | None = None,
    max_contradiction: float | None = None,
    calibration: str | Path | CalibrationFile | None = None,
    score_pairs: ScorePairs | None = None,
    **settings: Any,
) -> list[Verdict]:
    """``verify`` for many claims, ``evidence[i]`` being claim i's evidence, with every (segment, claim) pair of
    every claim scored in one call (which the scorer runs in length-sorted batches). Arguments as for ``verify``.

    Example:
        >>> verify_many(["Claim one.", "Claim two."], [["evidence a", "b"], []], model=reranker)  # doctest: +SKIP
    """
    claims = check_texts(claims, "claims", "claim", alone="claim", empty_hint="pass the statement to check")
    documents = check_premise_lists(evidence, len(claims), "evidence", "evidence", "claim")
    record = check_task_options(min_entailment, max_contradiction, score_pairs, calibration)  # before any model loads
    reranker = task_reranker(model, record, score_pairs is not None, settings)
    min_e, max_c = task_thresholds(reranker, record, min_entailment, max_contradiction)
    segment = reranker.segment if reranker is not None else _sentences
    hypothesis = reranker.hypothesis if reranker is not None else str
    split = [[(doc.id, s) for doc in docs for s in segment(doc)] for docs in documents]
    premises = [s.text for pieces in split for _, s in pieces]
    hypotheses = [hypothesis(claim) for claim, pieces in zip(claims, split, strict=True) for _ in pieces]
    score = score_pairs if score_pairs is not None else reranker.score_pairs  # type: ignore[union-attr]
    scores = check_pair_scores(score(premises, hypotheses) if premises else np.empty((0, 3)), len(premises))
    verdicts, start = [], 0
    for claim, pieces in zip(claims, split, strict=True):
        verdicts.append(_verdict(claim, pieces, scores[start : start + len(pieces)], min_e, max_c))
        start += len(pieces)
    return verdicts


def _sentences(document: Document) -> list[Segment]:
    return segment_document(document, DEFAULT_GRANULARITY, DEFAULT_TITLE)


def _verdict(claim: str, pieces: list[tuple[str, Segment]], block: np.ndarray, min_e: float, max_c: float) -> Verdict:
    """The verdict of one claim from its segments' probabilities (records are built only for the segments shown)."""
    decision = decide(block[:, 0], block[:, 2], min_entailment=min_e, max_contradiction=max_c)
    evidence = [evidence_item(pieces[i], block[i]) for i in decision.evidence]
    e = float(block[:, 0].max()) if len(pieces) else 0.0
    c = float(block[:, 2].max()) if len(pieces) else 0.0
    return Verdict(
        claim=claim, label=decision.label, confidence=min(1.0, max(0.0, decision.confidence)),
        reason=_reason(decision, pieces, block, min_e, max_c), evidence=evidence, max_entailment=e,
        max_contradiction=c,
    )  # fmt: skip


def _where(piece: tuple[str, Segment]) -> str:
    doc_id, segment = piece
    place = f"from sentence {segment.sentence}" if segment.sentence is not None else "whole passage or title"
    return f"document {doc_id!r}, {place}"


def _reason(
    decision: Decision, pieces: list[tuple[str, Segment]], block: np.ndarray, min_e: float, max_c: float
) -> str:
    if not pieces:
        return "no evidence was given, so nothing supports or refutes the claim"
    rule = f"min_entailment {min_e:g}, max_contradiction {max_c:g}"
    if decision.label == "NOT_ENOUGH_INFO":
        best_e, best_c = int(block[:, 0].argmax()), int(block[:, 2].argmax())
        return (
            f"no segment of {len(pieces)} decides ({rule}): the strongest entailment is {block[best_e, 0]:.3f} "
            f"({_where(pieces[best_e])}), the strongest contradiction {block[best_c, 2]:.3f} ({_where(pieces[best_c])})"
        )
    top = decision.evidence[0]
    if decision.label == "SUPPORTS":
        text = f"{len(decision.evidence)} of {len(pieces)} segments entail the claim ({rule}); strongest " \
               f"{block[top, 0]:.3f} ({_where(pieces[top])})"  # fmt: skip
        column, word = 2, "contradict"
        conflict = block[:, column] > max_c
    else:
        text = f"{len(decision.evidence)} of {len(pieces)} segments contradict the claim ({rule}); strongest " \
               f"{block[top, 2]:.3f} ({_where(pieces[top])})"  # fmt: skip
        column, word = 0, "entail"
        conflict = block[:, column] >= min_e
    if conflict.any():
        text += f"; {int(conflict.sum())} segment(s) {word} it less strongly (up to {block[:, column].max():.3f})"
    return text
