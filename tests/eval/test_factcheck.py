"""Fact-check metrics over rerank.verify's predictions: a rule-based pair scorer (hand-checkable), and the mini NLI
model on real claims."""

from __future__ import annotations

import numpy as np
import pytest

from eval import (
    CachedScorer,
    Claim,
    evaluate_factcheck,
    load_scifact_claims,
    load_scifact_sentences,
    predict_claims,
    report_predictions,
)
from rerank.records import Document
from rerank.verify import verify_many


def keyword_scorer(premises, hypotheses):
    """Entailment when the sentence says 'shows', contradiction when it says 'refutes', else neutral."""
    rows = []
    for premise in premises:
        if "shows" in premise:
            rows.append([0.9, 0.05, 0.05])
        elif "refutes" in premise:
            rows.append([0.05, 0.15, 0.8])
        else:
            rows.append([0.1, 0.8, 0.1])
    return np.array(rows)


DOCS = {
    "a": Document(id="a", text="", title="A", metadata={"sentences": ["Intro.", "It shows X.", "It shows X again."]}),
    "b": Document(id="b", text="", title="B", metadata={"sentences": ["Data refutes Y.", "Other."]}),
    "c": Document(id="c", text="", title="C", metadata={"sentences": ["Nothing here.", "Über café."]}),
}
CLAIMS = [
    Claim("1", "X holds.", ["a"], "SUPPORT", {"a": ("SUPPORT", (1,))}),
    Claim("2", "Y holds.", ["b"], "CONTRADICT", {"b": ("CONTRADICT", (0,))}),
    Claim("3", "Z holds.", ["c"], "NOINFO", {}),
    Claim("4", "W holds.", ["b", "c"], "SUPPORT", {"c": ("SUPPORT", (1,))}),
]


def test_predictions_by_hand():
    predictions = predict_claims(CLAIMS, DOCS, keyword_scorer)
    assert [p.label for p in predictions] == ["SUPPORT", "CONTRADICT", "NOINFO", "CONTRADICT"]
    assert predictions[0].evidence == {"a": ("SUPPORT", (1, 2))}
    assert predictions[2].evidence == {}


def test_report_by_hand():
    report = evaluate_factcheck(CLAIMS, DOCS, keyword_scorer)
    # gold triples: (1,a,1) (2,b,0) (4,c,1); predicted: (1,a,1) (1,a,2) (2,b,0) (4,b,0) -> 2 hits
    assert report.selection_precision == pytest.approx(2 / 4)
    assert report.selection_recall == pytest.approx(2 / 3)
    assert report.selection_f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert report.labelled_precision == pytest.approx(2 / 4)  # labels agree on both hits
    assert report.label_accuracy == 0.75
    assert report.confusion == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    # F1: SUPPORT 2/(2+0+1)=2/3, CONTRADICT 2/(2+1+0)=2/3, NOINFO 1
    assert report.label_macro_f1 == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="cites document 'zzz'"):
        predict_claims([Claim("9", "Q.", ["zzz"], "NOINFO")], DOCS, keyword_scorer)
    bare = {"a": Document(id="a", text="No split.")}
    with pytest.raises(ValueError, match="no metadata\\['sentences'\\]"):
        predict_claims([Claim("9", "Q.", ["a"], "NOINFO")], bare, keyword_scorer)
    with pytest.raises(ValueError, match="min_entailment"):
        predict_claims(CLAIMS, DOCS, keyword_scorer, min_entailment=1.5)
    with pytest.raises(TypeError, match="NLIReranker, a CachedScorer or a score_pairs callable"):
        predict_claims(CLAIMS, DOCS, "not a scorer")
    with pytest.raises(ValueError, match="no claims"):
        evaluate_factcheck([], DOCS, keyword_scorer)


def test_predictions_are_rerank_verify_verdicts():
    predictions = predict_claims(CLAIMS, DOCS, keyword_scorer, max_contradiction=0.7)
    verdicts = verify_many(
        [c.text for c in CLAIMS], [[DOCS[d] for d in c.cited_doc_ids] for c in CLAIMS], score_pairs=keyword_scorer,
        max_contradiction=0.7,
    )  # fmt: skip
    assert [p.verdict for p in predictions] == verdicts
    assert [p.label for p in predictions] == ["SUPPORT", "CONTRADICT", "NOINFO", "CONTRADICT"]


def test_evidence_ids_replace_the_cited_abstracts():
    # claim 1 checked against b (refuting) instead of its cited a; claim 3 against nothing
    predictions = predict_claims(CLAIMS, DOCS, keyword_scorer, evidence_ids={"1": ["b"], "3": []})
    assert [p.label for p in predictions] == ["CONTRADICT", "CONTRADICT", "NOINFO", "CONTRADICT"]
    assert predictions[0].evidence == {"b": ("CONTRADICT", (0,))}
    with pytest.raises(ValueError, match="'nope'"):
        predict_claims(CLAIMS, DOCS, keyword_scorer, evidence_ids={"1": ["nope"]})


def test_report_of_no_claims_is_refused():
    with pytest.raises(ValueError, match="no claims"):
        report_predictions([], [])


@pytest.fixture(scope="module")
def scifact_sample(factcheck_dir):
    claims = [c for c in load_scifact_claims(factcheck_dir / "claims_dev.jsonl") if len(c.cited_doc_ids) == 1][:8]
    return claims, load_scifact_sentences(factcheck_dir / "corpus_sentences.jsonl.gz")


def test_mini_nli_model_on_scifact_claims(mini_nli_model, scifact_sample, tmp_path):
    from rerank import NLIReranker

    claims, documents = scifact_sample
    reranker = NLIReranker(mini_nli_model, fusion_weight=None, show_progress=False)
    report = evaluate_factcheck(claims, documents, reranker)
    assert report.n_claims == 8 and sum(map(sum, report.confusion)) == 8
    assert 0.0 <= report.selection_f1 <= 1.0 and 0.0 <= report.label_accuracy <= 1.0
    cached = CachedScorer(reranker, tmp_path / "scores.sqlite")
    assert evaluate_factcheck(claims, documents, cached) == report  # first run fills the cache
    assert evaluate_factcheck(claims, documents, cached) == report and cached.hits > 0
    assert evaluate_factcheck(claims, documents, reranker.score_pairs) == report  # a bare callable: sentences too


def test_a_window_counts_every_sentence_it_holds(mini_nli_model, scifact_sample):
    from rerank import NLIReranker

    claims, documents = scifact_sample
    reranker = NLIReranker(mini_nli_model, granularity="window", window_tokens=64, show_progress=False)
    (prediction,) = predict_claims(claims[:1], documents, reranker, min_entailment=0.0)  # every window supports
    (doc_id,) = claims[0].cited_doc_ids
    sentences = documents[doc_id].metadata["sentences"]
    assert prediction.evidence[doc_id][1] == tuple(i for i, s in enumerate(sentences) if s.strip())
    assert any(item.text.count(". ") >= 1 for item in prediction.verdict.evidence)
