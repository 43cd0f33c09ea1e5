"""Fact-checking metrics on SciFact claims: how well ``rerank.verify`` finds the evidence sentences and the label.

Predictions come from ``rerank.verify_many`` (the decision rule lives there, see rerank.verify): each claim is checked
against its cited abstracts (or any documents named in ``evidence_ids``, e.g. what a retriever found), every sentence
a premise and the claim the hypothesis, all claims in one scoring call. The predicted evidence of a claim is the
verdict's evidence (the sentences that decided it; none for NOINFO); SUPPORTS / REFUTES / NOT_ENOUGH_INFO read as
SciFact's SUPPORT / CONTRADICT / NOINFO.

The scorer is what eval is handed, never a model it loads: an ``NLIReranker`` (its granularity cuts the abstracts), an
``eval.CachedScorer`` over one (scores kept on disk, the reranker still cuts), or a bare
``score_pairs(premises, hypotheses) -> (n, 3)`` callable (abstracts cut into their sentences).

Metrics: sentence selection precision / recall / F1, micro-averaged over (claim, document, sentence) triples against
the gold rationale sentences; the same with the label required to match ("labelled"); claim label accuracy, macro-F1
and confusion matrix over SUPPORT / CONTRADICT / NOINFO.

Example:
    >>> report = evaluate_factcheck(claims, sentences_by_doc, reranker)  # doctest: +SKIP
    >>> report.label_accuracy, report.selection_f1  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from eval.cache import CachedScorer
from eval.data import FACTCHECK_LABELS, Claim
from rerank.nli_reranker import NLIReranker
from rerank.records import Document
from rerank.segmenter import given_sentences, sentence_spans
from rerank.verify import DEFAULT_MAX_CONTRADICTION, DEFAULT_MIN_ENTAILMENT, EvidenceItem, Verdict, verify_many

__all__ = ["SCIFACT_LABELS", "ClaimPrediction", "FactCheckReport", "evaluate_factcheck", "predict_claims"]

ScorePairs = Callable[[Sequence[str], Sequence[str]], np.ndarray]
Scorer = NLIReranker | CachedScorer | ScorePairs
# rerank.verify's labels as SciFact writes them.
SCIFACT_LABELS = {"SUPPORTS": "SUPPORT", "REFUTES": "CONTRADICT", "NOT_ENOUGH_INFO": "NOINFO"}


@dataclass(frozen=True)
class ClaimPrediction:
    """Predicted label and evidence of one claim; evidence maps doc_id -> (label, sentence indices)."""

    claim_id: str
    label: str
    evidence: dict[str, tuple[str, tuple[int, ...]]]
    max_entailment: float
    max_contradiction: float
    verdict: Verdict


def _check_sentences(document: Document) -> list[str]:
    """The gold-aligned sentence split (metadata["sentences"]), required because the gold evidence indexes it."""
    given = given_sentences(document)
    if given is None:
        raise ValueError(
            f"document {document.id!r} has no metadata['sentences'] list; load it with load_scifact_sentences"
        )
    return given


def _scoring(scorer: Scorer) -> dict[str, Any]:
    """verify_many's model= / score_pairs= for what eval was handed."""
    if isinstance(scorer, NLIReranker):
        return {"model": scorer}
    if isinstance(scorer, CachedScorer):
        if not isinstance(scorer.reranker, NLIReranker):
            raise TypeError(f"the CachedScorer must wrap an NLIReranker, got {type(scorer.reranker).__name__}")
        return {"model": scorer.reranker, "score_pairs": scorer.score_pairs}
    if callable(scorer):
        return {"score_pairs": scorer}
    raise TypeError(
        f"scorer must be an NLIReranker, a CachedScorer or a score_pairs callable, got {type(scorer).__name__}"
    )


def _sentence_indices(item: EvidenceItem, spans: list[tuple[int, int] | None]) -> tuple[int, ...]:
    """The document's sentences a segment holds: those whose span lies within the segment's (a window holds
    several), else the segment's first sentence."""
    if item.span is not None:
        start, end = item.span
        inside = tuple(i for i, span in enumerate(spans) if span is not None and start <= span[0] and span[1] <= end)
        if inside:
            return inside
    return () if item.sentence is None else (item.sentence,)


def predict_claims(
    claims: Sequence[Claim],
    documents: Mapping[str, Document],
    scorer: Scorer,
    *,
    min_entailment: float = DEFAULT_MIN_ENTAILMENT,
    max_contradiction: float = DEFAULT_MAX_CONTRADICTION,
    evidence_ids: Mapping[str, Sequence[str]] | None = None,
) -> list[ClaimPrediction]:
    """Label each claim and select its evidence sentences with ``rerank.verify_many`` (one scoring call).

    Args:
        claims: The claims.
        documents: Abstracts by id, each with ``metadata["sentences"]`` (``load_scifact_sentences``).
        scorer: An NLIReranker, a CachedScorer over one, or a ``score_pairs`` callable (see the module docstring).
        min_entailment: rerank.verify's threshold for a supporting sentence.
        max_contradiction: rerank.verify's threshold above which a sentence refutes.
        evidence_ids: claim id -> the documents to check it against; a claim left out is checked against its
            cited abstracts (the default for every claim).

    Raises:
        ValueError: A document missing from ``documents`` or without a sentence list; a bad threshold.
    """
    evidence_ids = evidence_ids or {}
    spans: dict[str, list[tuple[int, int] | None]] = {}
    evidence: list[list[Document]] = []
    for claim in claims:
        doc_ids = evidence_ids.get(claim.id, claim.cited_doc_ids)
        for doc_id in doc_ids:
            if doc_id not in documents:
                raise ValueError(f"claim {claim.id!r} cites document {doc_id!r}, which is not in the corpus given")
            if doc_id not in spans:
                spans[doc_id] = sentence_spans(documents[doc_id].text, _check_sentences(documents[doc_id]))
        evidence.append([documents[doc_id] for doc_id in dict.fromkeys(doc_ids)])
    verdicts = verify_many(
        [claim.text for claim in claims], evidence, min_entailment=min_entailment, max_contradiction=max_contradiction,
        **_scoring(scorer),
    )  # fmt: skip
    predictions = []
    for claim, verdict in zip(claims, verdicts, strict=True):
        label = SCIFACT_LABELS[verdict.label]
        selected: dict[str, set[int]] = {}
        for item in verdict.evidence:
            selected.setdefault(item.document_id, set()).update(_sentence_indices(item, spans[item.document_id]))
        chosen = {doc_id: (label, tuple(sorted(indices))) for doc_id, indices in selected.items() if indices}
        predictions.append(
            ClaimPrediction(claim.id, label, chosen, verdict.max_entailment, verdict.max_contradiction, verdict)
        )
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


def precision_recall_f1(hits: int, predicted: int, gold: int) -> tuple[float, float, float]:
    """P = hits / predicted, R = hits / gold, F1 = 2PR / (P + R); each 0.0 when its denominator is 0."""
    p = hits / predicted if predicted else 0.0
    r = hits / gold if gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def macro_f1(confusion: np.ndarray) -> float:
    """Mean over labels of F1 = 2TP / (2TP + FP + FN), over the labels that occur in gold or predictions."""
    tp = np.diag(confusion).astype(np.float64)
    denominators = 2 * tp + (confusion.sum(axis=0) - tp) + (confusion.sum(axis=1) - tp)
    present = denominators > 0
    return float((2 * tp[present] / denominators[present]).mean())


def _triples(evidence: Mapping[str, tuple[str, Sequence[int]]], claim_id: str, with_label: bool) -> set[tuple]:
    return {(claim_id, d, i, label if with_label else None) for d, (label, idx) in evidence.items() for i in idx}


def report_predictions(claims: Sequence[Claim], predictions: Sequence[ClaimPrediction]) -> FactCheckReport:
    """Score predictions against the claims' gold evidence and labels (the module docstring's metrics)."""
    if not claims:
        raise ValueError("no claims to evaluate")
    results = {}
    for with_label in (False, True):
        gold = set().union(*(_triples(c.evidence, c.id, with_label) for c in claims))
        predicted = set().union(*(_triples(p.evidence, p.claim_id, with_label) for p in predictions))
        results[with_label] = precision_recall_f1(len(gold & predicted), len(predicted), len(gold))
    index = {label: i for i, label in enumerate(FACTCHECK_LABELS)}
    confusion = np.zeros((3, 3), dtype=np.int64)
    for claim, prediction in zip(claims, predictions, strict=True):
        confusion[index[claim.label], index[prediction.label]] += 1
    return FactCheckReport(
        len(claims), *results[False], *results[True],
        label_accuracy=float(np.trace(confusion) / len(claims)),
        label_macro_f1=macro_f1(confusion),
        confusion=confusion.tolist(),
    )  # fmt: skip


def evaluate_factcheck(
    claims: Sequence[Claim],
    documents: Mapping[str, Document],
    scorer: Scorer,
    *,
    min_entailment: float = DEFAULT_MIN_ENTAILMENT,
    max_contradiction: float = DEFAULT_MAX_CONTRADICTION,
    evidence_ids: Mapping[str, Sequence[str]] | None = None,
) -> FactCheckReport:
    """Predict with ``predict_claims`` (arguments as there) and score with ``report_predictions``."""
    if not claims:
        raise ValueError("no claims to evaluate")
    predictions = predict_claims(
        claims, documents, scorer, min_entailment=min_entailment, max_contradiction=max_contradiction,
        evidence_ids=evidence_ids,
    )  # fmt: skip
    return report_predictions(claims, predictions)
