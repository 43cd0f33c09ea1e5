"""rerank.verify: the decision rule on hand-made probabilities, verify/verify_many on the mini NLI model, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from rerank import Document, NLIReranker
from rerank.verify import EvidenceItem, Verdict, decide, verify, verify_many

STAGE = Document(
    id="stage", title="Concert", text="The weather was cold. A man is playing a guitar on stage. The crowd cheered."
)
GUITAR = "A man is playing a guitar on stage."


def keyword_scores(premises, hypotheses):
    """Entailment when the premise says 'shows', contradiction when it says 'refutes', else neutral."""
    rows = {"shows": [0.9, 0.05, 0.05], "refutes": [0.05, 0.15, 0.8]}
    return np.array([next((row for word, row in rows.items() if word in p), [0.1, 0.8, 0.1]) for p in premises])


# ---- the decision rule ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entail", "contra", "label", "confidence", "evidence"),
    [
        ([0.9, 0.6, 0.1], [0.05, 0.1, 0.2], "SUPPORTS", 0.9, (0, 1)),  # both supporting segments, strongest first
        ([0.1, 0.2], [0.3, 0.8], "REFUTES", 0.8, (1,)),
        ([0.4, 0.3], [0.2, 0.45], "NOT_ENOUGH_INFO", 0.55, ()),  # 1 - the most decisive probability
        ([0.9, 0.1], [0.0, 0.7], "SUPPORTS", 0.9, (0,)),  # both pass: the stronger side wins
        ([0.6, 0.1], [0.0, 0.7], "REFUTES", 0.7, (1,)),
        ([0.7, 0.1], [0.0, 0.7], "SUPPORTS", 0.7, (0,)),  # a tie goes to SUPPORTS
        (
            [0.5],
            [0.5],
            "SUPPORTS",
            0.5,
            (0,),
        ),  # entailment == min_entailment supports; contradiction == max does not refute
        ([0.49], [0.5], "NOT_ENOUGH_INFO", 0.5, ()),
        ([], [], "NOT_ENOUGH_INFO", 1.0, ()),  # no segment at all
    ],
)
def test_decision_rule_on_hand_made_probabilities(entail, contra, label, confidence, evidence):
    decision = decide(entail, contra)
    assert (decision.label, decision.evidence) == (label, evidence)
    assert decision.confidence == pytest.approx(confidence)


def test_decision_thresholds_move_the_boundaries():
    assert decide([0.6], [0.0], min_entailment=0.7).label == "NOT_ENOUGH_INFO"
    assert decide([0.1], [0.3], max_contradiction=0.2).label == "REFUTES"
    assert decide([0.1], [0.99], max_contradiction=1.0).label == "NOT_ENOUGH_INFO"  # 1.0: never refute
    assert decide([0.0], [0.0], min_entailment=0.0).label == "SUPPORTS"  # 0.0: anything supports


@pytest.mark.parametrize(
    ("entail", "contra", "kwargs", "error", "match"),
    [
        ([0.5, 0.5], [0.5], {}, ValueError, "2 entailment but 1"),
        ([float("nan")], [0.1], {}, ValueError, "position 0"),
        ([0.2], [1.5], {}, ValueError, "p_contradiction"),
        ([0.2], [0.1], {"min_entailment": 1.5}, ValueError, "min_entailment"),
        ([0.2], [0.1], {"max_contradiction": None}, TypeError, "max_contradiction"),
        ([[0.2]], [[0.1]], {}, ValueError, "1-D"),
    ],
)
def test_decision_refuses_bad_input(entail, contra, kwargs, error, match):
    with pytest.raises(error, match=match):
        decide(entail, contra, **kwargs)


# ---- verify with a given scorer (no model) ------------------------------------------------------------------


def test_verify_with_a_scorer_cuts_sentences_and_keeps_spans():
    doc = Document(id="d", text="Intro here. The data shows an effect. Then it refutes another.")
    verdict = verify("The effect holds.", [doc, "Nothing."], score_pairs=keyword_scores)
    assert verdict.label == "SUPPORTS" and verdict.confidence == pytest.approx(0.9)
    (item,) = verdict.evidence
    assert (item.document_id, item.sentence, item.text) == ("d", 1, "The data shows an effect.")
    assert doc.text[item.span[0] : item.span[1]] == item.text
    assert "refutes" not in verdict.reason and "contradict it less strongly (up to 0.800)" in verdict.reason
    assert verdict.max_contradiction == pytest.approx(0.8)


def test_no_evidence_is_not_enough_info_with_a_reason():
    verdict = verify("Vitamin D prevents fractures.", [], score_pairs=keyword_scores)
    assert verdict == Verdict(
        claim="Vitamin D prevents fractures.", label="NOT_ENOUGH_INFO", confidence=1.0, reason=verdict.reason
    )
    assert "no evidence" in verdict.reason


@pytest.mark.parametrize(
    ("claim", "evidence", "error", "match"),
    [
        ("", ["text"], ValueError, "claim is empty"),
        (" \u200b ", ["text"], ValueError, "claim is empty"),
        (None, ["text"], TypeError, "claim must be a str"),
        (["a", "b"], [["text"], ["text"]], TypeError, "verify_many"),
        ("Claim.", ["fine", 3], TypeError, "evidence at position 1 must be a str or Document, got int"),
        ("Claim.", ["fine", None], TypeError, "position 1"),
        ("Claim.", "a bare string", TypeError, "wrap it in a list"),
        ("Claim.", ["fine", "  "], ValueError, "evidence at position 1 is empty"),
        ("Claim.", [Document(id="a", text=" ")], ValueError, "'a' has no text"),
        ("Claim.", [Document(id="a", text="x"), Document(id="a", text="y")], ValueError, "duplicate document id"),
    ],
)
def test_bad_inputs_name_the_problem(claim, evidence, error, match):
    with pytest.raises(error, match=match):
        verify(claim, evidence, score_pairs=keyword_scores)


def test_verify_many_bad_inputs():
    with pytest.raises(ValueError, match="2 claims, got 1"):
        verify_many(["a.", "b."], [["x"]], score_pairs=keyword_scores)
    with pytest.raises(ValueError, match="claim at position 1 is empty"):
        verify_many(["a.", ""], [["x"], ["y"]], score_pairs=keyword_scores)
    with pytest.raises(TypeError, match="evidence of claim 1 at position 0"):
        verify_many(["a.", "b."], [["x"], [1.5]], score_pairs=keyword_scores)
    with pytest.raises(ValueError, match="min_entailment"):
        verify_many(["a."], [["x"]], score_pairs=keyword_scores, min_entailment=2)
    with pytest.raises(ValueError, match=r"\(1, 3\) probabilities"):
        verify_many(["a."], [["x"]], score_pairs=lambda p, h: np.zeros((1, 2)))
    with pytest.raises(ValueError, match="granularity"):
        verify_many(["a."], [["x"]], score_pairs=keyword_scores, granularity="window")


def test_inputs_are_not_mutated():
    evidence = ["The data shows X.", Document(id="d", text="It refutes Y.")]
    copy = list(evidence)
    verify("X.", evidence, score_pairs=keyword_scores)
    assert evidence == copy


# ---- the mini NLI model -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mini_reranker(mini_nli_dir):
    # torch fp32: batch composition then changes a probability by float rounding only (verify_many vs verify, 1e-6)
    return NLIReranker(str(mini_nli_dir), fusion_weight=None, backend="torch", precision="fp32", show_progress=False)


def test_obviously_supported_claim(mini_reranker):
    verdict = verify("A man is playing an instrument.", [STAGE], model=mini_reranker)
    assert verdict.label == "SUPPORTS" and verdict.confidence > 0.9
    top = verdict.evidence[0]
    assert (top.document_id, top.sentence, top.text) == ("stage", 1, GUITAR)
    start = STAGE.text.index(GUITAR)
    assert top.span == (start, start + len(GUITAR))
    assert "document 'stage', from sentence 1" in verdict.reason


def test_obviously_contradicted_claim(mini_reranker):
    verdict = verify("Nobody is playing music.", [STAGE], model=mini_reranker)
    assert verdict.label == "REFUTES" and verdict.confidence > 0.9
    assert verdict.evidence[0].text == GUITAR
    assert verdict.evidence == sorted(verdict.evidence, key=lambda item: -item.p_contradiction)


def test_model_as_a_path_with_reranker_settings(mini_nli_dir):
    verdict = verify("A man is playing an instrument.", [STAGE], model=str(mini_nli_dir), granularity="passage")
    assert verdict.label == "SUPPORTS"
    (item,) = verdict.evidence
    assert item.sentence is None and item.span == (0, len(STAGE.text)) and item.text == STAGE.content


@pytest.mark.parametrize("granularity", ["sentence", "window"])
def test_spans_point_at_the_segment_in_the_document_text(mini_nli_dir, granularity):
    text = "Café owners met in Zürich. " * 3 + "A man is playing a guitar on stage – loudly. " + "Rain fell. " * 40
    doc = Document(id="long", title="Ünïcode", text=text)
    reranker = NLIReranker(str(mini_nli_dir), granularity=granularity, window_tokens=24, show_progress=False)
    verdict = verify("A man is playing an instrument.", [doc, "A dog sleeps."], model=reranker, min_entailment=0.0)
    assert len(verdict.evidence) > 3  # min_entailment 0: every segment supports, so every span is checked
    for item in verdict.evidence:
        document_text = text if item.document_id == "long" else "A dog sleeps."
        assert document_text[item.span[0] : item.span[1]] == item.text
    if granularity == "window":
        assert any(item.text.count(".") > 1 for item in verdict.evidence)  # windows hold several sentences


def test_verify_many_equals_verify_one_at_a_time_in_one_scoring_call(mini_reranker, monkeypatch):
    claims = ["A man is playing an instrument.", "Nobody is playing music.", "It was warm.", "A woman sings."]
    evidence = [[STAGE], [STAGE, "The band played all night."], ["It was freezing outside."], []]
    one_by_one = [verify(claim, docs, model=mini_reranker) for claim, docs in zip(claims, evidence, strict=True)]
    calls = []
    score_pairs = mini_reranker.score_pairs

    def counted(premises, hypotheses):
        calls.append(len(premises))
        return score_pairs(premises, hypotheses)

    monkeypatch.setattr(mini_reranker, "score_pairs", counted)
    together = verify_many(claims, evidence, model=mini_reranker)
    assert calls == [3 + 4 + 1]
    for a, b in zip(one_by_one, together, strict=True):
        assert (a.label, a.reason) == (b.label, b.reason) and a.confidence == pytest.approx(b.confidence, abs=1e-6)
        assert len(a.evidence) == len(b.evidence)
        for x, y in zip(a.evidence, b.evidence, strict=True):
            assert (x.document_id, x.text, x.span) == (y.document_id, y.text, y.span)
            assert x.p_entailment == pytest.approx(y.p_entailment, abs=1e-6)
            assert x.p_contradiction == pytest.approx(y.p_contradiction, abs=1e-6)


def test_built_reranker_takes_no_settings(mini_reranker):
    with pytest.raises(ValueError, match="already built"):
        verify("Claim.", ["x"], model=mini_reranker, granularity="window")


def test_records_validate():
    with pytest.raises(ValueError):
        EvidenceItem(document_id="a", text="t", p_entailment=1.5, p_contradiction=0.0)
    with pytest.raises(ValueError):
        Verdict(claim="c", label="MAYBE", confidence=0.5, reason="r")


# ---- thresholds from a calibration file ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def calibration_path(mini_nli_dir, shared_dir, tmp_path_factory):
    calibration = pytest.importorskip("rerank.calibration")
    from rerank.nli_tsv import read_nli_tsv

    pairs = read_nli_tsv(shared_dir / "data" / "nli" / "snli_validation.tsv", labels=True, limit=300)
    reranker = NLIReranker(str(mini_nli_dir), granularity="passage", show_progress=False)
    record = calibration.calibrate_nli(reranker, pairs)
    return calibration.save_calibration(record, tmp_path_factory.mktemp("calibration") / "mini.json")


def test_thresholds_come_from_a_calibration_file(mini_nli_dir, mini_reranker, calibration_path):
    from rerank.calibration import load_calibration

    record = load_calibration(calibration_path)
    chosen = record.threshold_values()
    min_e, max_c = chosen["min_entailment"], chosen["max_contradiction"]
    verdict = verify("A man is playing an instrument.", [STAGE], model=str(mini_nli_dir), calibration=calibration_path)
    assert f"min_entailment {min_e:g}, max_contradiction {max_c:g}" in verdict.reason
    plain = verify("A man is playing an instrument.", [STAGE], model=mini_reranker)
    assert verdict.max_entailment != pytest.approx(plain.max_entailment, abs=1e-6)  # the temperature was applied
    built = NLIReranker(str(mini_nli_dir), calibration=calibration_path, show_progress=False)
    assert verify("A man is playing an instrument.", [STAGE], model=built) == verdict  # the reranker's own file
    given = verify("A man is playing an instrument.", [STAGE], model=built, min_entailment=0.25)
    assert f"min_entailment 0.25, max_contradiction {max_c:g}" in given.reason  # an argument beats the file
    with pytest.raises(ValueError, match="temperature"):
        verify("A man is playing an instrument.", [STAGE], model=mini_reranker, calibration=calibration_path)
    with pytest.raises(TypeError, match="calibration"):
        verify("A claim.", ["x"], score_pairs=keyword_scores, calibration=0.5)
