"""rerank.groundedness: the label rule on hand-made probabilities, spans, bad inputs, the mini NLI model; and the
evaluation set and metrics of eval.groundedness."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from rerank import Document, Groundedness, NLIReranker, SentenceCheck, groundedness, groundedness_many
from rerank.groundedness import NO_PASSAGES, label_sentences, sentence_budget

STAGE = Document(id="stage", text="The weather was cold. A man is playing a guitar on stage. The crowd cheered.")
GUITAR = "A man is playing a guitar on stage."


def keyword_scores(premises, hypotheses):
    """Entailment when premise and hypothesis share the word 'guitar', contradiction when the hypothesis says
    'nobody', else neutral."""
    rows = []
    for premise, hypothesis in zip(premises, hypotheses, strict=True):
        if "nobody" in hypothesis.lower():
            rows.append([0.05, 0.15, 0.8] if "guitar" in premise else [0.1, 0.8, 0.1])
        elif "guitar" in premise and "guitar" in hypothesis:
            rows.append([0.9, 0.05, 0.05])
        else:
            rows.append([0.1, 0.8, 0.1])
    return np.array(rows)


# ---- the label rule -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("e", "c", "label"),
    [
        (0.9, 0.05, "SUPPORTED"),
        (0.9, 0.95, "SUPPORTED"),  # support wins: another passage contradicting it does not overturn it
        (0.5, 0.0, "SUPPORTED"),  # entailment == min_entailment supports
        (0.49, 0.5, "UNSUPPORTED"),  # contradiction == max_contradiction does not contradict
        (0.49, 0.51, "CONTRADICTED"),
        (0.1, 0.8, "CONTRADICTED"),
        (0.2, 0.1, "UNSUPPORTED"),
        (0.0, 0.0, "UNSUPPORTED"),
    ],
)
def test_label_rule_on_hand_made_probabilities(e, c, label):
    assert label_sentences([e], [c]) == [label]


def test_label_rule_thresholds_and_vectors():
    assert label_sentences([0.6, 0.6], [0.3, 0.0], min_entailment=0.7, max_contradiction=0.2) == [
        "CONTRADICTED", "UNSUPPORTED"]  # fmt: skip
    assert label_sentences([0.1], [0.99], max_contradiction=1.0) == ["UNSUPPORTED"]  # 1.0: never contradicted
    assert label_sentences([0.0], [1.0], min_entailment=0.0) == ["SUPPORTED"]  # 0.0: everything supported
    assert label_sentences([], []) == []


@pytest.mark.parametrize(
    ("e", "c", "kwargs", "error", "match"),
    [
        ([0.5, 0.5], [0.5], {}, ValueError, "2 entailment but 1"),
        ([float("nan")], [0.1], {}, ValueError, "position 0"),
        ([0.2], [1.5], {}, ValueError, "p_contradiction"),
        ([0.2], [0.1], {"min_entailment": 1.5}, ValueError, "min_entailment"),
        ([0.2], [0.1], {"max_contradiction": None}, TypeError, "max_contradiction"),
        ([[0.2]], [[0.1]], {}, ValueError, "1-D"),
    ],
)
def test_label_rule_refuses_bad_input(e, c, kwargs, error, match):
    with pytest.raises(error, match=match):
        label_sentences(e, c, **kwargs)


# ---- with a given scorer (no model) ---------------------------------------------------------------------------


def test_sentences_spans_labels_and_aggregates_with_a_scorer():
    answer = "  A man plays the guitar.  Nobody plays music!\nThe crowd was large. "
    result = groundedness(answer, [STAGE, "A dog sleeps."], score_pairs=keyword_scores)
    assert [s.label for s in result.sentences] == ["SUPPORTED", "CONTRADICTED", "UNSUPPORTED"]
    for check in result.sentences:
        assert answer[check.span[0] : check.span[1]] == check.text
    assert [s.text for s in result.flagged] == ["Nobody plays music!", "The crowd was large."]
    supported, contradicted, unsupported = result.sentences
    assert (supported.evidence.document_id, supported.evidence.text) == ("stage", STAGE.text)
    assert STAGE.text[slice(*supported.evidence.span)] == supported.evidence.text  # a window of the whole passage
    assert contradicted.contradiction.document_id == "stage" and contradicted.p_contradiction == 0.8
    assert "contradicted with 0.800 by passage 'stage'" in contradicted.reason
    assert "no segment of 2 entails or contradicts it" in unsupported.reason
    assert result.score == pytest.approx((0.9 + 0.1 + 0.1) / 3) and result.min_score == pytest.approx(0.1)
    assert not result.fully_supported
    assert groundedness("The guitar.", [STAGE], score_pairs=keyword_scores).fully_supported


def test_no_passages_makes_every_sentence_unsupported_without_a_model():
    calls = []
    result = groundedness("One claim. Another claim.", [], model="no/such-model",
                          score_pairs=lambda p, h: calls.append(p) or keyword_scores(p, h))  # fmt: skip
    assert calls == [] and not result.fully_supported and result.score == 0.0
    assert [(s.label, s.reason, s.evidence) for s in result.sentences] == [("UNSUPPORTED", NO_PASSAGES, None)] * 2
    assert groundedness("A claim.", [], model="no/such-model").sentences[0].reason == NO_PASSAGES  # nothing loads


@pytest.mark.parametrize(
    ("answer", "passages", "error", "match"),
    [
        ("", ["x"], ValueError, "answer is empty"),
        (" \u200b\n", ["x"], ValueError, "answer is empty"),
        (None, ["x"], TypeError, "answer must be a str"),
        (["a.", "b."], ["x"], TypeError, "groundedness_many"),
        ("A.", "just one string", TypeError, "wrap it in a list"),
        ("A.", ["fine", 3], TypeError, "passage at position 1 must be a str or Document, got int"),
        ("A.", ["fine", None], TypeError, "passage at position 1"),
        ("A.", ["fine", "  "], ValueError, "passage at position 1 is empty"),
        ("A.", [Document(id="a", text="x"), Document(id="a", text="y")], ValueError, "duplicate document id"),
    ],
)
def test_bad_inputs_name_the_problem(answer, passages, error, match):
    with pytest.raises(error, match=match):
        groundedness(answer, passages, score_pairs=keyword_scores)


def test_groundedness_many_bad_inputs():
    with pytest.raises(ValueError, match="one list per answer"):
        groundedness_many(["a.", "b."], [["x"]], score_pairs=keyword_scores)
    with pytest.raises(ValueError, match="answer at position 1 is empty"):
        groundedness_many(["a.", ""], [["x"], ["y"]], score_pairs=keyword_scores)
    with pytest.raises(TypeError, match="passage of answer 1 at position 0"):
        groundedness_many(["a.", "b."], [["x"], [1.5]], score_pairs=keyword_scores)
    with pytest.raises(ValueError, match="min_entailment"):
        groundedness_many(["a."], [["x"]], score_pairs=keyword_scores, min_entailment=2)
    with pytest.raises(ValueError, match=r"\(1, 3\) probabilities"):
        groundedness_many(["a."], [["x"]], score_pairs=lambda p, h: np.zeros((1, 2)))
    with pytest.raises(ValueError, match="need a model"):
        groundedness_many(["a."], [["x"]], score_pairs=keyword_scores, granularity="sentence")
    with pytest.raises(TypeError, match="model must be"):
        groundedness("a.", [], model=3.5)
    with pytest.raises(TypeError, match="calibration"):
        groundedness("a.", ["x"], score_pairs=keyword_scores, calibration=0.5)


def test_inputs_are_not_mutated():
    passages = [STAGE, "Another one."]
    kept = copy.deepcopy(passages)
    groundedness("A guitar. Nobody.", passages, score_pairs=keyword_scores)
    assert passages == kept


def test_a_long_sentence_is_scored_in_windows_without_a_model():
    filler = " ".join(f"w{i}" for i in range(30))
    answer = f"The guitar and {filler} and nobody listened."
    windows = []

    def recorded(premises, hypotheses):
        windows.extend(hypotheses)
        return keyword_scores(premises, hypotheses)

    (check,) = groundedness(answer, [STAGE], score_pairs=recorded, max_sentence_tokens=10).sentences
    assert check.parts == len(windows) == 5 and all(w in answer for w in windows)  # 36 words, windows of 10 every 7
    assert windows[0].startswith("The guitar") and windows[-1].endswith("listened.")
    # only the first window is entailed: the weakest window decides; 'nobody' contradicts in the last one
    assert (check.label, check.p_entailment, check.p_contradiction) == ("CONTRADICTED", 0.05, 0.8)
    assert "scored in 5 windows" in check.reason


def test_records_validate():
    with pytest.raises(ValueError):
        SentenceCheck(text="t", span=(0, 1), label="MAYBE", p_entailment=0.5, p_contradiction=0.1, reason="r")
    with pytest.raises(ValueError):
        Groundedness(answer="a", score=1.5, min_score=0.0, fully_supported=False, sentences=[], min_entailment=0.5,
                     max_contradiction=0.5)  # fmt: skip


# ---- the mini NLI model ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mini_reranker(mini_nli_dir):
    # torch fp32, one pair per batch: a pair's probabilities then do not depend on the pairs it is batched with (the
    # padding of a batch moves fp32 rounding by ~1e-6), so many-vs-one checks the bookkeeping to 1e-6
    return NLIReranker(str(mini_nli_dir), granularity="window", fusion_weight=None, backend="torch", precision="fp32",
                       batch_size=1, show_progress=False)  # fmt: skip


def test_a_supported_and_an_invented_sentence(mini_reranker):
    answer = "A man is playing an instrument. He won the lottery last year."
    result = groundedness(answer, [STAGE, "A dog sleeps on a sofa."], model=mini_reranker)
    supported, invented = result.sentences
    assert supported.label == "SUPPORTED" and supported.p_entailment > 0.9
    assert supported.evidence.document_id == "stage" and GUITAR in supported.evidence.text
    assert invented.label != "SUPPORTED" and invented.p_entailment < 0.1
    assert result.flagged == [invented] and not result.fully_supported
    assert result.min_score == invented.p_entailment


@pytest.mark.parametrize("granularity", ["sentence", "window"])
def test_spans_point_at_the_right_characters(mini_nli_dir, granularity):
    text = "Café owners met in Zürich. " * 3 + "A man is playing a guitar on stage – loudly. " + "Rain fell. " * 40
    doc = Document(id="long", title="Ünïcode", text=text)
    reranker = NLIReranker(str(mini_nli_dir), granularity=granularity, window_tokens=24, backend="torch",
                           show_progress=False)  # fmt: skip
    answer = "Café owners met. \n A man plays an instrument – loudly!  Rain fell in Zürich."
    result = groundedness(answer, [doc, "A dog sleeps."], model=reranker)
    for check in result.sentences:
        assert answer[check.span[0] : check.span[1]] == check.text
        for item in (check.evidence, check.contradiction):
            source = text if item.document_id == "long" else "A dog sleeps."
            assert source[item.span[0] : item.span[1]] == item.text
    assert "guitar" in result.sentences[1].evidence.text


def test_model_as_a_path_reads_windows_unless_told(mini_nli_dir, mini_reranker):
    long_doc = Document(id="d", text="The weather was cold. " * 3 + GUITAR)
    result = groundedness("A man is playing an instrument.", [long_doc], model=str(mini_nli_dir), backend="torch")
    assert result.sentences[0].evidence.text == long_doc.text  # one window holds the whole passage
    by_sentence = groundedness("A man is playing an instrument.", [long_doc], model=str(mini_nli_dir),
                               backend="torch", granularity="sentence")  # fmt: skip
    assert by_sentence.sentences[0].evidence.text == GUITAR
    with pytest.raises(ValueError, match="already built"):
        groundedness("A claim.", ["x"], model=mini_reranker, granularity="window")


def test_groundedness_many_equals_one_at_a_time_in_one_scoring_call(mini_reranker, monkeypatch):
    answers = ["A man is playing an instrument. Nobody is playing music.", "It was warm.", "A woman sings.",
               "The crowd cheered loudly. It was cold."]  # fmt: skip
    passages = [[STAGE], [STAGE, "It was freezing outside."], [], ["The weather was cold.", STAGE]]
    one_by_one = [groundedness(a, p, model=mini_reranker) for a, p in zip(answers, passages, strict=True)]
    calls = []
    score_pairs = mini_reranker.score_pairs

    def counted(premises, hypotheses):
        calls.append(len(premises))
        return score_pairs(premises, hypotheses)

    monkeypatch.setattr(mini_reranker, "score_pairs", counted)
    together = groundedness_many(answers, passages, model=mini_reranker)
    assert calls == [2 * 1 + 1 * 2 + 0 + 2 * 2]
    for a, b in zip(one_by_one, together, strict=True):
        assert a.score == pytest.approx(b.score, abs=1e-6) and a.min_score == pytest.approx(b.min_score, abs=1e-6)
        assert a.fully_supported == b.fully_supported
        for x, y in zip(a.sentences, b.sentences, strict=True):
            assert (x.text, x.span, x.label, x.parts) == (y.text, y.span, y.label, y.parts)
            assert x.p_entailment == pytest.approx(y.p_entailment, abs=1e-6)
            assert x.p_contradiction == pytest.approx(y.p_contradiction, abs=1e-6)
            assert (x.evidence is None) == (y.evidence is None)
            if x.evidence is not None:
                assert (x.evidence.document_id, x.evidence.span) == (y.evidence.document_id, y.evidence.span)


def test_a_sentence_too_long_for_the_model_is_windowed_not_truncated(mini_nli_dir):
    reranker = NLIReranker(str(mini_nli_dir), granularity="window", window_tokens=24, max_length=48, backend="torch",
                           show_progress=False)  # fmt: skip
    assert sentence_budget(reranker) == 48 - 3 - 24
    answer = ("A man is playing an instrument on a stage while a large crowd of people watches him and the weather is "
              "cold, and he was later elected president of the United States of America in a landslide.")  # fmt: skip
    (check,) = groundedness(answer, [STAGE], model=reranker).sentences
    assert check.parts > 1 and check.label != "SUPPORTED"  # the invented tail is read, not cut off
    with pytest.raises(ValueError, match="no room"):
        sentence_budget(reranker, max_sentence_tokens=45)


@pytest.fixture(scope="module")
def calibration_path(mini_nli_dir, shared_dir, tmp_path_factory):
    calibration = pytest.importorskip("rerank.calibration")
    from rerank.nli_tsv import read_nli_tsv

    pairs = read_nli_tsv(shared_dir / "data" / "nli" / "snli_validation.tsv", labels=True, limit=300)
    reranker = NLIReranker(str(mini_nli_dir), granularity="passage", backend="torch", show_progress=False)
    record = calibration.calibrate_nli(reranker, pairs)
    return calibration.save_calibration(record, tmp_path_factory.mktemp("calibration") / "mini.json")


def test_thresholds_come_from_a_calibration_file(mini_nli_dir, mini_reranker, calibration_path):
    from rerank.calibration import load_calibration

    chosen = load_calibration(calibration_path).threshold_values()
    result = groundedness("A man is playing an instrument.", [STAGE], model=str(mini_nli_dir), backend="torch",
                          calibration=calibration_path)  # fmt: skip
    assert (result.min_entailment, result.max_contradiction) == (chosen["min_entailment"], chosen["max_contradiction"])
    plain = groundedness("A man is playing an instrument.", [STAGE], model=mini_reranker)
    assert result.score != pytest.approx(plain.score, abs=1e-6)  # the file's temperature was applied
    given = groundedness("A man is playing an instrument.", [STAGE], model=str(mini_nli_dir), backend="torch",
                         calibration=calibration_path, min_entailment=0.25)  # fmt: skip
    assert given.min_entailment == 0.25  # an argument beats the file
    with pytest.raises(ValueError, match="temperature"):
        groundedness("A claim.", [STAGE], model=mini_reranker, calibration=calibration_path)


# ---- eval.groundedness: the built set and its metrics ---------------------------------------------------------


def test_built_set_has_known_labels_and_halves_share_no_premise():
    from eval.data import NLIExamples
    from eval.groundedness import build_groundedness_set, split_by_premise

    premises = [f"Scene {i} happens here." for i in range(12) for _ in range(3)]
    hypotheses = [f"Scene {i} has {kind}" for i in range(12) for kind in ("support.", "nothing", "denial.")]
    pairs = NLIExamples(premises, hypotheses, ["entailment", "neutral", "contradiction"] * 12, "toy")
    first, rest = split_by_premise(pairs, 0.5, seed=1)
    assert not set(first.premises) & set(rest.premises) and len(first) == len(rest) == 18
    built = build_groundedness_set(pairs, distractors=2, seed=3)
    assert built.dropped == 0 and len(built) == 12
    gold = {"support.": "SUPPORTED", "nothing.": "UNSUPPORTED", "denial.": "CONTRADICTED"}
    for example in built.examples:
        sentences = example.answer.split(". ")
        assert [gold[s.split()[-1].rstrip(".") + "."] for s in sentences] == example.labels  # full stop added
        assert len(example.passages) == 3 and example.premise_id in {p.id for p in example.passages}
    assert any(example.fully_supported for example in built.examples)
    assert build_groundedness_set(pairs, distractors=2, seed=3) == built  # seeded
    lower = NLIExamples(["P one.", "P one.", "P two."], ["a cat.", "it is red.", "A dog."],
                        ["entailment", "neutral", "entailment"])  # fmt: skip
    assert build_groundedness_set(lower, distractors=1, entailed_only=0.0).dropped == 1  # "it" starts no sentence


def test_metrics_on_hand_made_values():
    from eval.groundedness import SentenceScores, balanced_accuracy, evaluate_groundedness, roc_auc

    assert balanced_accuracy(["a", "a", "a", "b"], ["a", "a", "b", "b"]) == pytest.approx((2 / 3 + 1) / 2)
    assert roc_auc([True, False, True, False], [0.9, 0.1, 0.4, 0.4]) == 0.875
    with pytest.raises(ValueError, match="positives and negatives"):
        roc_auc([True, True], [0.1, 0.2])
    scores = SentenceScores(["SUPPORTED", "UNSUPPORTED", "SUPPORTED", "CONTRADICTED"], np.array([0, 0, 1, 2]),
                            np.array([0.9, 0.2, 0.7, 0.1]), np.array([0.0, 0.1, 0.0, 0.9]))  # fmt: skip
    report = evaluate_groundedness(scores)
    assert report.label_balanced_accuracy == 1.0 and report.answer_accuracy == 1.0
    assert report.answer_base_rate == pytest.approx(1 / 3) and report.flag_roc_auc == 1.0
    strict = evaluate_groundedness(scores, min_entailment=0.8)  # answer 1's sentence is no longer supported
    assert strict.answer_accuracy == pytest.approx(2 / 3) and strict.recall["SUPPORTED"] == 0.5


def test_roc_auc_agrees_with_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    from eval.groundedness import roc_auc

    rng = np.random.default_rng(0)
    y = rng.random(300) < 0.4
    s = np.round(rng.random(300) + 0.3 * y, 2)  # rounded: ties
    assert roc_auc(y, s) == pytest.approx(metrics.roc_auc_score(y, s), abs=1e-12)
