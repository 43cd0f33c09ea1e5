"""rerank.classify: the transformers zero-shot-classification pipeline's scores, with the contradiction index read
from the label map, in one batched pass; and every bad input of issue 12."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from rerank.classify import Classification, check_labels, classify, label_scores
from rerank.head import softmax
from rerank.nli_reranker import NLIReranker
from tests.conftest import build_tiny_deberta

TEXTS = [
    "The striker scored twice in the second half and the home side won the cup.",
    "Parliament passed the budget after a long night of debate.",
    "Whisk the eggs with sugar, then fold in the flour and bake for twenty minutes.",
    "A new phone with a faster chip and a better camera goes on sale next week.",
    "Ça va?",  # short and not English: still one pair per label
]
LABELS = ["sports", "politics", "cooking", "technology"]
PIPELINE_TOLERANCE = 1e-5


def _reranker(path) -> NLIReranker:
    return NLIReranker(str(path), backend="torch", precision="fp32", show_progress=False)


@pytest.fixture(scope="module")
def mini_reranker(mini_nli_dir) -> NLIReranker:
    return _reranker(mini_nli_dir)


@pytest.fixture(scope="module")
def mini_pipeline(mini_nli_dir):
    transformers = pytest.importorskip("transformers")
    return transformers.pipeline("zero-shot-classification", model=str(mini_nli_dir), device="cpu")


def _as_dict(labels, scores) -> dict[str, float]:
    return dict(zip(labels, scores, strict=True))


def _assert_same_as_pipeline(results, expected) -> None:
    assert len(results) == len(expected)
    for result, reference in zip(results, expected, strict=True):
        assert result.text == reference["sequence"]
        ours, theirs = _as_dict(result.labels, result.scores), _as_dict(reference["labels"], reference["scores"])
        assert ours.keys() == theirs.keys()
        for label, score in theirs.items():
            assert ours[label] == pytest.approx(score, abs=PIPELINE_TOLERANCE), label
        assert result.scores == sorted(result.scores, reverse=True)


@pytest.mark.parametrize("multi_label", [False, True])
def test_scores_equal_the_transformers_pipeline(mini_reranker, mini_pipeline, multi_label):
    results = classify(TEXTS, LABELS, model=mini_reranker, multi_label=multi_label)
    expected = mini_pipeline(TEXTS, LABELS, multi_label=multi_label)
    _assert_same_as_pipeline(results, expected)
    total = sum(results[0].scores)
    assert (total == pytest.approx(1.0)) is not multi_label
    assert results[0].label == "sports" and results[2].label == "cooking"


def test_a_single_label_is_scored_as_multi_label_like_the_pipeline(mini_reranker, mini_pipeline):
    results = classify(TEXTS[:2], ["sports"], model=mini_reranker)
    _assert_same_as_pipeline(results, mini_pipeline(TEXTS[:2], ["sports"]))
    assert results[0].score("sports") > 0.5 > results[1].score("sports")


def test_a_custom_template_equals_the_pipeline(mini_reranker, mini_pipeline):
    template = "This text is about {}."
    results = classify(TEXTS[:3], LABELS, model=mini_reranker, template=template)
    _assert_same_as_pipeline(results, mini_pipeline(TEXTS[:3], LABELS, hypothesis_template=template))


def test_a_model_id_or_path_builds_the_reranker(mini_nli_dir, mini_pipeline):
    results = classify(TEXTS[:2], LABELS, model=str(mini_nli_dir), backend="torch", precision="fp32")
    _assert_same_as_pipeline(results, mini_pipeline(TEXTS[:2], LABELS))


def test_all_pairs_go_through_one_pass(mini_nli_dir):
    reranker = _reranker(mini_nli_dir)
    calls = []
    original = reranker.pair_logits

    def counting(premises, hypotheses):
        calls.append(len(premises))
        return original(premises, hypotheses)

    reranker.pair_logits = counting  # type: ignore[method-assign]
    classify(TEXTS, LABELS, model=reranker)
    assert calls == [len(TEXTS) * len(LABELS)]


# ---- label orders ------------------------------------------------------------------------------------------------


def _pair_logits(reranker: NLIReranker, texts, labels, template="This example is {}.") -> np.ndarray:
    hypotheses = [template.format(label) for label in labels]
    logits = reranker.pair_logits([t for t in texts for _ in labels], [h for _ in texts for h in hypotheses])
    return np.asarray(logits, dtype=np.float64).reshape(len(texts), len(labels), -1)


@pytest.mark.parametrize("multi_label", [False, True])
def test_a_permuted_label_order_is_read_from_the_config(tiny_deberta_dir, tiny_deberta_permuted_dir, multi_label):
    """Same weights, id2label 0 entailment, 1 neutral, 2 contradiction (the mDeBERTa XNLI order)."""
    permuted = _reranker(tiny_deberta_permuted_dir)
    logits = _pair_logits(_reranker(tiny_deberta_dir), TEXTS[:3], LABELS)  # identical logits, other label names
    expected = label_scores(logits[..., 0], logits[..., 2], multi_label=multi_label)
    results = classify(TEXTS[:3], LABELS, model=permuted, multi_label=multi_label)
    for result, row in zip(results, expected, strict=True):
        assert _as_dict(result.labels, result.scores) == pytest.approx(_as_dict(LABELS, row), abs=1e-6)
    as_configured = classify(TEXTS[:3], LABELS, model=_reranker(tiny_deberta_dir), multi_label=multi_label)
    ours = np.array([_as_dict(r.labels, r.scores)[label] for r in results for label in LABELS])
    theirs = np.array([_as_dict(r.labels, r.scores)[label] for r in as_configured for label in LABELS])
    assert np.abs(ours - theirs).max() > 1e-7  # the label names, not the weights, moved the scores


def test_entailment_in_the_middle_uses_the_real_contradiction(tmp_path):
    """id2label 0 neutral, 1 entailment, 2 contradiction: the pipeline would take logit 0 (neutral) as contradiction."""
    directory = build_tiny_deberta(tmp_path / "middle", {0: "neutral", 1: "entailment", 2: "contradiction"})
    reranker = _reranker(directory)
    logits = _pair_logits(reranker, TEXTS[:2], LABELS)
    results = classify(TEXTS[:2], LABELS, model=reranker, multi_label=True)
    expected = softmax(logits[..., [2, 1]].reshape(-1, 2))[:, 1].reshape(2, len(LABELS))
    wrong = softmax(logits[..., [0, 1]].reshape(-1, 2))[:, 1].reshape(2, len(LABELS))
    for result, row, other in zip(results, expected, wrong, strict=True):
        assert _as_dict(result.labels, result.scores) == pytest.approx(_as_dict(LABELS, row), abs=1e-6)
        assert not np.allclose(row, other, atol=1e-3)


def test_a_two_label_model_in_multi_label_gives_its_own_entailment_probability(tmp_path):
    """Defined behaviour: the not_entailment logit takes the contradiction's part (the pipeline does the same)."""
    transformers = pytest.importorskip("transformers")
    directory = build_tiny_deberta(tmp_path / "two", {0: "not_entailment", 1: "entailment"})
    reranker = _reranker(directory)
    results = classify(TEXTS[:3], LABELS, model=reranker, multi_label=True)
    hypotheses = [f"This example is {label}." for label in LABELS]
    own = reranker.score_pairs([t for t in TEXTS[:3] for _ in LABELS], hypotheses * 3)[:, 0].reshape(3, -1)
    for result, row in zip(results, own, strict=True):
        assert _as_dict(result.labels, result.scores) == pytest.approx(_as_dict(LABELS, row), abs=1e-6)
    pipeline = transformers.pipeline("zero-shot-classification", model=str(directory), device="cpu")
    _assert_same_as_pipeline(results, pipeline(TEXTS[:3], LABELS, multi_label=True))
    _assert_same_as_pipeline(classify(TEXTS[:3], LABELS, model=reranker), pipeline(TEXTS[:3], LABELS))


# ---- bad input -----------------------------------------------------------------------------------------------------


def test_an_empty_text_list_gives_an_empty_result_without_a_model(tmp_path):
    assert classify([], LABELS, model=str(tmp_path / "absent-model")) == []


@pytest.mark.parametrize(
    ("labels", "error", "message"),
    [
        ([], ValueError, "labels is empty"),
        (["sports", "politics", "sports"], ValueError, "label 'sports' is given twice (positions 0 and 2)"),
        (["sports", " "], ValueError, "label at position 1 is empty"),
        (["sports", ""], ValueError, "label at position 1 is empty"),
        ("sports", TypeError, "single string 'sports' (wrap it in a list)"),
        (["sports", 3], TypeError, "label at position 1 must be a str, got int"),
        (None, TypeError, "labels must be a list of str, got NoneType"),
    ],
)
def test_bad_labels_are_refused_before_any_model_loads(tmp_path, labels, error, message):
    with pytest.raises(error) as raised:
        classify(TEXTS, labels, model=str(tmp_path / "absent-model"))
    assert message in str(raised.value)
    with pytest.raises(error):
        classify([], labels)  # even with nothing to classify


@pytest.mark.parametrize(
    ("template", "error", "message"),
    [
        ("This example is about sports.", ValueError, "exactly one '{}'"),
        ("{} or {}?", ValueError, "exactly one '{}'"),
        ("This example is {label}.", ValueError, "exactly one '{}'"),
        ("This example is {.", ValueError, "not a valid format string"),
        (None, TypeError, "template must be a str"),
    ],
)
def test_a_template_needs_exactly_one_field(tmp_path, template, error, message):
    with pytest.raises(error) as raised:
        classify(TEXTS, LABELS, model=str(tmp_path / "absent-model"), template=template)
    assert message in str(raised.value) and (template is None or repr(template) in str(raised.value))


@pytest.mark.parametrize(
    ("texts", "error", "message"),
    [
        ("one text", TypeError, "texts must be a list of str, got a single string"),
        (["fine", "  "], ValueError, "text at position 1 is empty"),
        (["fine", None], TypeError, "text at position 1 must be a str, got NoneType"),
    ],
)
def test_bad_texts(tmp_path, texts, error, message):
    with pytest.raises(error, match=message):
        classify(texts, LABELS, model=str(tmp_path / "absent-model"))


def test_multi_label_must_be_a_bool(tmp_path):
    with pytest.raises(TypeError, match="multi_label must be True or False, got 'yes'"):
        classify(TEXTS, LABELS, model=str(tmp_path / "absent-model"), multi_label="yes")


def test_settings_with_a_built_reranker_are_refused(mini_reranker):
    with pytest.raises(ValueError, match="already built NLIReranker"):
        classify(TEXTS, LABELS, model=mini_reranker, granularity="sentence")


def test_check_labels_keeps_the_order_and_does_not_mutate():
    labels = ("b", "a")
    assert check_labels(labels) == ["b", "a"] and labels == ("b", "a")


# ---- records -------------------------------------------------------------------------------------------------------


def test_results_are_frozen_and_validated():
    result = Classification(text="t", labels=["a", "b"], scores=[0.7, 0.3], multi_label=False)
    assert result.label == "a" and result.score("b") == 0.3
    with pytest.raises(KeyError, match="label 'c' was not classified"):
        result.score("c")
    with pytest.raises(ValidationError):
        result.text = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="sorted highest first"):
        Classification(text="t", labels=["a", "b"], scores=[0.3, 0.7], multi_label=False)
    with pytest.raises(ValidationError, match="2 labels but 1 scores"):
        Classification(text="t", labels=["a", "b"], scores=[0.3], multi_label=False)
    with pytest.raises(ValidationError, match=r"probabilities in \[0, 1\]"):
        Classification(text="t", labels=["a"], scores=[1.5], multi_label=True)
    assert result.model_dump(mode="json") == {"text": "t", "labels": ["a", "b"], "scores": [0.7, 0.3],
                                              "multi_label": False}  # fmt: skip


def test_label_scores_by_hand():
    e, c = np.array([[2.0, 0.0]]), np.array([[0.0, 1.0]])
    assert label_scores(e, c)[0].tolist() == pytest.approx([np.exp(2) / (np.exp(2) + 1), 1 / (np.exp(2) + 1)])
    assert label_scores(e, c, multi_label=True)[0, 1] == pytest.approx(1 / (1 + np.e))
    with pytest.raises(ValueError, match=r"\(texts, labels\)"):
        label_scores(np.zeros(3), np.zeros(3))
