"""Fact-checking on SciFact claims: given a claim and its cited abstracts, find the evidence sentences and the label.

Every sentence of every cited abstract is scored as premise against the claim as hypothesis (one batched call to a
``score_pairs(premises, hypotheses) -> (n, 3)`` function, e.g. ``NLIReranker.score_pairs`` or a CachedScorer).
A sentence is predicted evidence when its entailment >= ``min_entailment`` (support) or its contradiction >=
``min_contradiction`` (refute). The claim is SUPPORT when the strongest entailment over all its sentences passes
``min_entailment`` and beats the strongest contradiction, CONTRADICT when the strongest contradiction passes
``min_contradiction``, otherwise NOINFO.

Metrics: sentence selection precision / recall / F1, micro-averaged over (claim, document, sentence) triples against
the gold rationale sentences; the same with the label required to match ("labelled"); claim label accuracy,
macro-F1 and confusion matrix over SUPPORT / CONTRADICT / NOINFO.

Example:
    >>> report = evaluate_factcheck(claims, sentences_by_doc, reranker.score_pairs)  # doctest: +SKIP
    >>> report.label_accuracy, report.selection_f1  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from eval.data import FACTCHECK_LABELS, Claim
from rerank.records import Document
from rerank.segmenter import given_sentences
from rerank.validation import check_threshold

__all__ = ["ClaimPrediction", "FactCheckReport", "evaluate_factcheck", "predict_claims"]

ScorePairs = Callable[[Sequence[str], Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class ClaimPrediction:
    """Predicted label and evidence of one claim; evidence maps doc_id -> (label, sentence indices)."""

    claim_id: str
    label: str
    evidence: dict[str, tuple[str, tuple[int, ...]]]
    max_entailment: float
    max_contradiction: float


def _sentences(document: Document) -> list[str]:
    """The gold-aligned sentence split (rerank.segmenter's reading of metadata["sentences"]), required here because
    the gold evidence indexes it."""
    given = given_sentences(document)
    if given is None:
        raise ValueError(
            f"document {document.id!r} has no metadata['sentences'] list; load it with load_scifact_sentences"
        )
    return given


def predict_claims(
    claims: Sequence[Claim],
    documents: Mapping[str, Document],
    score_pairs: ScorePairs,
    *,
    min_entailment: float = 0.5,
    min_contradiction: float = 0.5,
) -> list[ClaimPrediction]:
    """Label each claim and select its evidence sentences from its cited abstracts (see the module docstring).

    Raises:
        ValueError: A cited document is missing from ``documents`` or has no sentence list; a bad threshold.
    """
    min_entailment = check_threshold("min_entailment", min_entailment)
    min_contradiction = check_threshold("min_contradiction", min_contradiction)
    slots, premises, hypotheses = [], [], []
    for c, claim in enumerate(claims):
        for doc_id in claim.cited_doc_ids:
            if doc_id not in documents:
                raise ValueError(f"claim {claim.id!r} cites document {doc_id!r}, which is not in the corpus given")
            for index, sentence in enumerate(_sentences(documents[doc_id])):
                if sentence.strip():
                    slots.append((c, doc_id, index))
                    premises.append(sentence)
                    hypotheses.append(claim.text)
    scores = np.asarray(score_pairs(premises, hypotheses), dtype=np.float64).reshape(len(premises), 3)
    by_claim: dict[int, list[tuple[str, int, np.ndarray]]] = {}
    for (c, doc_id, index), row in zip(slots, scores, strict=True):
        by_claim.setdefault(c, []).append((doc_id, index, row))
    predictions = []
    for c, claim in enumerate(claims):
        rows = by_claim.get(c, [])
        best_e = max((float(r[0]) for _, _, r in rows), default=0.0)
        best_c = max((float(r[2]) for _, _, r in rows), default=0.0)
        if best_e >= min_entailment and best_e >= best_c:
            label = "SUPPORT"
        elif best_c >= min_contradiction:
            label = "CONTRADICT"
        else:
            label = "NOINFO"
        evidence: dict[str, tuple[str, tuple[int, ...]]] = {}
        if label != "NOINFO":
            column, threshold = (0, min_entailment) if label == "SUPPORT" else (2, min_contradiction)
            for doc_id, index, row in rows:
                if row[column] >= threshold:
                    previous = evidence.get(doc_id, (label, ()))[1]
                    evidence[doc_id] = (label, (*previous, index))
        predictions.append(ClaimPrediction(claim.id, label, evidence, best_e, best_c))
    return predictions


@dataclass(frozen=True)
class FactCheckReport:
    """Sentence selection and claim label quality; ``confusion`` rows gold, columns predicted, in FACTCHECK_LABELS."""

    n_claims: int
    selection_precision: float
    selection_recall: float
    selection_f1: float
    labelled_precision: float
    labelled_recall: float
    labelled_f1: float
    label_accuracy: float
    label_macro_f1: float
    confusion: list[list[int]]

    def to_dict(self) -> dict:
        return {**self.__dict__, "labels": list(FACTCHECK_LABELS)}


def _prf(hits: int, predicted: int, gold: int) -> tuple[float, float, float]:
    p = hits / predicted if predicted else 0.0
    r = hits / gold if gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _triples(evidence: Mapping[str, tuple[str, Sequence[int]]], claim_id: str, with_label: bool) -> set[tuple]:
    return {(claim_id, d, i, label if with_label else None) for d, (label, idx) in evidence.items() for i in idx}


def evaluate_factcheck(
    claims: Sequence[Claim],
    documents: Mapping[str, Document],
    score_pairs: ScorePairs,
    *,
    min_entailment: float = 0.5,
    min_contradiction: float = 0.5,
) -> FactCheckReport:
    """Predict with ``predict_claims`` and score against the claims' gold evidence and labels."""
    if not claims:
        raise ValueError("no claims to evaluate")
    predictions = predict_claims(
        claims, documents, score_pairs, min_entailment=min_entailment, min_contradiction=min_contradiction
    )
    results = {}
    for with_label in (False, True):
        gold = set().union(*(_triples(c.evidence, c.id, with_label) for c in claims))
        predicted = set().union(*(_triples(p.evidence, p.claim_id, with_label) for p in predictions))
        results[with_label] = _prf(len(gold & predicted), len(predicted), len(gold))
    index = {label: i for i, label in enumerate(FACTCHECK_LABELS)}
    confusion = np.zeros((3, 3), dtype=np.int64)
    for claim, prediction in zip(claims, predictions, strict=True):
        confusion[index[claim.label], index[prediction.label]] += 1
    tp = np.diag(confusion).astype(np.float64)
    denominators = 2 * tp + (confusion.sum(axis=0) - tp) + (confusion.sum(axis=1) - tp)
    present = denominators > 0
    return FactCheckReport(
        len(claims), *results[False], *results[True],
        label_accuracy=float(tp.sum() / len(claims)),
        label_macro_f1=float((2 * tp[present] / denominators[present]).mean()),
        confusion=confusion.tolist(),
    )  # fmt: skip
