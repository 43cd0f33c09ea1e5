"""Calibration: temperature and Platt fits, reliability, thresholds, the calibration file, calibrated rerankers."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from rerank import NLIReranker
from rerank.calibration import (
    CalibrationFile,
    RelevancePairs,
    binary_reliability,
    calibrate_nli,
    classification_reliability,
    fit_platt,
    fit_temperature,
    load_calibration,
    nli_gold_indices,
    save_calibration,
    select_threshold,
    split_indices,
    split_pairs,
    threshold_stats,
)
from rerank.head import Platt, Temperature, softmax
from rerank.labels import label_map_from_names
from rerank.nli_tsv import NLIPairs, read_nli_tsv
from tests.conftest import build_tiny_deberta

NLI_LABELS = ("entailment", "neutral", "contradiction")


def synthetic_logits(n: int, temperature: float, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(z), logits handed out as z x temperature: a model over-confident by exactly T."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, size=(n, classes))
    probabilities = softmax(z)
    gold = (probabilities.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    return z * temperature, gold


# ---- fitting ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("true_temperature", [0.5, 1.0, 2.5])
@pytest.mark.parametrize("classes", [2, 3])
def test_fit_temperature_recovers_a_known_temperature(true_temperature, classes):
    logits, gold = synthetic_logits(20_000, true_temperature, classes)
    fitted = fit_temperature(logits, gold).temperature
    assert fitted > 0
    assert fitted == pytest.approx(true_temperature, rel=0.05)


def test_fit_temperature_minimises_the_nll():
    logits, gold = synthetic_logits(3000, 1.7)
    fitted = fit_temperature(logits, gold).temperature

    def nll(t):
        return classification_reliability(softmax(logits / t), gold).nll

    assert nll(fitted) <= min(nll(fitted * 0.97), nll(fitted * 1.03))


def test_fit_temperature_refuses_data_without_a_minimum():
    separable = np.array([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]])
    with pytest.raises(ValueError, match="gets them all right"):
        fit_temperature(separable, [0, 1, 2])
    with pytest.raises(ValueError, match="no information"):
        fit_temperature(separable, [1, 2, 0])  # every pair confidently wrong, as with a wrong label order
    with pytest.raises(ValueError, match="integer label positions"):
        fit_temperature(separable, [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        fit_temperature(separable, [0, 1, 3])
    with pytest.raises(ValueError, match="NaN"):
        fit_temperature(np.array([[np.nan, 0.0]]), [0])


def test_fit_platt_recovers_known_parameters():
    rng = np.random.default_rng(1)
    logits = rng.normal(0.0, 3.0, size=20_000)
    relevant = rng.random(20_000) < 1 / (1 + np.exp(-(0.6 * logits - 1.2)))
    platt = fit_platt(logits[:, None], relevant)
    assert platt.slope == pytest.approx(0.6, rel=0.05) and platt.intercept == pytest.approx(-1.2, abs=0.06)


def test_fit_platt_refuses_one_class_constant_logits_and_a_reversed_model():
    with pytest.raises(ValueError, match="relevant and non-relevant"):
        fit_platt(np.array([1.0, 2.0]), np.array([True, True]))
    with pytest.raises(ValueError, match="are equal"):
        fit_platt(np.array([1.0, 1.0]), np.array([True, False]))
    with pytest.raises(ValueError, match="slope"):
        fit_platt(np.array([3.0, 2.0, -2.0, -3.0]), np.array([False, False, True, True]))
    with pytest.raises(ValueError, match="booleans"):
        fit_platt(np.array([3.0, 2.0]), np.array([1, 0]))


def test_separable_relevance_data_gives_a_finite_platt_fit():
    platt = fit_platt(np.array([-2.0, -1.0, 1.0, 2.0]), np.array([False, False, True, True]))
    assert 0 < platt.slope < 100 and np.isfinite(platt.intercept)


def test_gold_labels_map_to_the_models_own_label_order():
    permuted = label_map_from_names(["contradiction", "entailment", "neutral"])
    assert nli_gold_indices(["entailment", "neutral", "contradiction"], permuted).tolist() == [1, 2, 0]
    two = label_map_from_names(["not_entailment", "entailment"])
    assert nli_gold_indices(["entailment", "neutral", "contradiction"], two).tolist() == [1, 0, 0]
    with pytest.raises(ValueError, match="unknown NLI labels"):
        nli_gold_indices(["yes"], permuted)


# ---- reliability and thresholds ---------------------------------------------------------------------------------


def test_classification_reliability_agrees_with_eval_nli_metrics():
    from eval.nli_metrics import accuracy, brier_score, expected_calibration_error, negative_log_likelihood

    logits, gold = synthetic_logits(500, 2.0)
    probabilities = softmax(logits)
    names = [NLI_LABELS[i] for i in gold]
    ours = classification_reliability(probabilities, gold)
    assert ours.ece == pytest.approx(expected_calibration_error(names, probabilities), abs=1e-12)
    assert ours.brier == pytest.approx(brier_score(names, probabilities), abs=1e-12)
    assert ours.accuracy == accuracy(names, probabilities)
    assert ours.nll == pytest.approx(negative_log_likelihood(names, probabilities), abs=1e-12)


def test_binary_reliability_by_hand():
    report = binary_reliability(np.array([0.9, 0.2, 0.6, 0.6]), np.array([True, False, False, True]))
    assert report.brier == pytest.approx((0.01 + 0.04 + 0.36 + 0.16) / 4)
    assert report.accuracy == 0.75  # p >= 0.5 calls the third pair relevant
    # bins of p: {0.2} -> |0 - 0.2|, {0.6, 0.6} -> |0.5 - 0.6|, {0.9} -> |1 - 0.9|
    assert report.ece == pytest.approx(0.25 * 0.2 + 0.5 * 0.1 + 0.25 * 0.1)
    assert report.nll == pytest.approx(-np.mean(np.log([0.9, 0.8, 0.4, 0.6])))


def test_best_f1_threshold_by_hand():
    scores = np.array([0.9, 0.8, 0.3, 0.2, 0.1])
    choice = select_threshold(scores, np.array([True, True, False, False, True]))
    assert choice.value == pytest.approx(0.55) and choice.criterion == "best_f1"
    assert (choice.fit.selected, choice.fit.precision, choice.fit.recall) == (2, 1.0, 2 / 3)


def test_target_precision_takes_the_highest_recall_that_reaches_it():
    scores = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5])
    positive = np.array([True, True, False, True, False, True])
    choice = select_threshold(scores, positive, target_precision=0.75)
    assert choice.value == pytest.approx(0.65)  # keeps 4 with 3 positives; keeping 6 gives 4/6 < 0.75
    assert choice.fit.precision == 0.75 and choice.fit.recall == 0.75 and choice.target_precision == 0.75
    with pytest.raises(ValueError, match=r"no threshold reaches precision 0.99.*best is 0.500"):
        select_threshold(np.array([0.9, 0.8, 0.7]), np.array([False, True, False]), target_precision=0.99)


def test_flagging_rule_and_edge_cases():
    scores = np.array([0.7, 0.7, 0.1, 0.0])
    choice = select_threshold(scores, np.array([True, True, False, False]), rule=">")
    assert choice.value == pytest.approx(0.4) and choice.fit.selected == 2
    assert threshold_stats(scores, np.array([True, True, False, False]), 0.7, ">").selected == 0
    assert threshold_stats(scores, np.array([True, True, False, False]), 0.7, ">=").selected == 2
    with pytest.raises(ValueError, match="none of the 2 pairs is positive"):
        select_threshold(np.array([0.5, 0.4]), np.array([False, False]))
    with pytest.raises(ValueError, match="probabilities"):
        select_threshold(np.array([1.5]), np.array([True]))


def test_split_is_seeded_and_disjoint():
    fit, held = split_indices(11, 0.5, seed=3)
    assert sorted(np.concatenate([fit, held]).tolist()) == list(range(11)) and len(held) == 6
    assert np.array_equal(split_indices(11, 0.5, seed=3)[1], held)
    pairs = NLIPairs(["p1", "p2", "p3"], ["h1", "h2", "h3"], ["entailment", "neutral", "contradiction"], "x")
    whole, none = split_pairs(pairs, 0.0)
    assert whole == pairs and none is None
    relevance = RelevancePairs(["q"] * 4, ["a", "b", "c", "d"], [True, False, True, False])
    fit_part, held_part = split_pairs(relevance, 0.5, seed=0)
    assert (
        len(fit_part) == 2 and held_part is not None and sorted(fit_part.passages + held_part.passages) == list("abcd")
    )
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        split_indices(4, 1.0)


# ---- the calibration file ---------------------------------------------------------------------------------------


def make_record(**changes) -> CalibrationFile:
    reliability = {"n": 10, "nll": 0.5, "ece": 0.1, "brier": 0.3, "accuracy": 0.8}
    stats = {"n": 10, "positives": 4, "selected": 3, "precision": 1.0, "recall": 0.75, "f1": 6 / 7}
    payload = {
        "kind": "temperature", "parameters": {"temperature": 1.5},
        "model": {"source": "m", "fingerprint": "abc", "backend": "torch", "precision": "fp32", "max_length": 512,
                  "labels": ["contradiction", "entailment", "neutral"]},
        "data": {"kind": "nli_pairs", "sources": ["pairs.tsv"], "fit_pairs": 10},
        "metrics": {"fit": {"before": reliability, "after": reliability}},
        "thresholds": {"min_entailment": {"value": 0.6, "criterion": "best_f1", "fit": stats}},
    } | changes  # fmt: skip
    return CalibrationFile.model_validate(payload)


def test_file_round_trips(tmp_path):
    record = make_record()
    path = save_calibration(record, tmp_path / "sub" / "calibration.json")
    loaded = load_calibration(path)
    assert loaded == record
    assert loaded.calibration == Temperature(1.5) and loaded.threshold_values() == {"min_entailment": 0.6}
    assert json.loads(path.read_text())["format"] == "nli-rerank-calibration"
    assert not list((tmp_path / "sub").glob("*.tmp"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.pop("kind"), "kind: Field required"),
        (lambda p: p["parameters"].update(temperature=-1.0), "temperature must be a finite number > 0"),
        (lambda p: p.update(parameters={"slope": 1.0}), "parameters of a temperature calibration"),
        (lambda p: p["metrics"]["fit"]["after"].update(ece="high"), "metrics.fit.after.ece"),
        (lambda p: p["thresholds"]["min_entailment"].update(value=1.5), "thresholds.min_entailment.value"),
        (lambda p: p["thresholds"].update(min_score=p["thresholds"]["min_entailment"]), "do not apply"),
        (lambda p: p.update(version=2), "version 2 is not one this nli-rerank reads"),
        (lambda p: p.update(format="something-else"), "not a calibration file"),
        (lambda p: p.update(extra=1), "extra: Extra inputs are not permitted"),
    ],
)
def test_damaged_file_is_a_one_line_error_naming_the_field(tmp_path, change, message):
    payload = json.loads(make_record().model_dump_json())
    change(payload)
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    with pytest.raises(ValueError, match=message) as raised:
        load_calibration(path)
    assert "\n" not in str(raised.value) and str(path) in str(raised.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="rerank calibrate"):
        load_calibration(tmp_path / "absent.json")
    (tmp_path / "cut.json").write_text('{"format": "nli-rerank-calibration", "kind": ', encoding="utf-8")
    with pytest.raises(ValueError, match=r"invalid JSON \(Expecting value at line 1"):
        load_calibration(tmp_path / "cut.json")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="not UTF-8"):
        load_calibration(tmp_path / "binary.json")
    (tmp_path / "list.json").write_text("[]", encoding="utf-8")
    with pytest.raises(ValueError, match="format is 'list'"):
        load_calibration(tmp_path / "list.json")


# ---- calibrated rerankers (tiny DeBERTa: no download) -----------------------------------------------------------

PREMISES = ["A man plays a guitar on stage.", "Nobody is here.", "The cat sleeps on the sofa.", "Rain fell all day.",
            "Two dogs run in a park.", "A woman reads a book.", "The market opens at nine.",
            "Snow covers the road."]  # fmt: skip
HYPOTHESIS = "Someone is making music."


def test_calibrated_reranker_keeps_argmax_and_order_and_changes_fingerprint(tiny_deberta_dir):
    plain = NLIReranker(str(tiny_deberta_dir), fusion_weight=None, show_progress=False)
    hot = NLIReranker(plain.model, fusion_weight=None, calibration=Temperature(3.0), show_progress=False)
    same = NLIReranker(plain.model, fusion_weight=None, calibration=Temperature(3.0), show_progress=False)
    logits = plain.pair_logits(PREMISES, [HYPOTHESIS] * len(PREMISES))
    before, after = plain.score(HYPOTHESIS, PREMISES), hot.score(HYPOTHESIS, PREMISES)
    np.testing.assert_allclose(after[:, [2, 0, 1]], softmax(logits / 3.0), atol=1e-6)  # model order: c, e, n
    assert np.array_equal(before.argmax(axis=1), after.argmax(axis=1))
    assert after.max(axis=1).mean() < before.max(axis=1).mean()  # T > 1 softens
    assert [r.document.text for r in plain.rerank(HYPOTHESIS, PREMISES)] == [
        r.document.text for r in hot.rerank(HYPOTHESIS, PREMISES)
    ]
    assert plain.fingerprint != hot.fingerprint == same.fingerprint
    assert hot.calibration == Temperature(3.0) and plain.calibration is None and hot.calibration_file is None


def tiny_pairs(reranker, n: int = 60, flip: float = 0.25, seed: int = 0) -> NLIPairs:
    """Pairs labelled with the model's own answers, a fraction flipped: a model that is right 75% of the time."""
    rng = np.random.default_rng(seed)
    premises = [PREMISES[i % len(PREMISES)] + f" Item {i}." for i in range(n)]
    hypotheses = [HYPOTHESIS if i % 2 else "The place is quiet." for i in range(n)]
    predicted = reranker.score_pairs(premises, hypotheses).argmax(axis=1)
    columns = 3 if reranker.label_map.has_contradiction else 2
    labels = [NLI_LABELS[(p + rng.integers(1, columns)) % columns if rng.random() < flip else p] for p in predicted]
    return NLIPairs(premises, hypotheses, labels, "tiny")


def test_calibrate_nli_file_loads_into_a_reranker(tiny_deberta_dir, tmp_path, caplog):
    plain = NLIReranker(str(tiny_deberta_dir), granularity="passage", fusion_weight=None, show_progress=False)
    fit, held = split_pairs(tiny_pairs(plain), 0.5, seed=0)
    record = calibrate_nli(plain, fit, heldout=held, sources=["tiny.tsv"], seed=0)
    assert record.kind == "temperature" and record.parameters["temperature"] > 0
    assert record.model.fingerprint == plain.model.fingerprint
    assert record.model.labels == ["contradiction", "entailment", "neutral"]
    assert (record.data.fit_pairs, record.data.heldout_pairs, record.data.sources) == (30, 30, ["tiny.tsv"])
    assert (
        set(record.metrics) == {"fit", "heldout"}
        and record.metrics["fit"]["after"].nll <= record.metrics["fit"]["before"].nll + 1e-12
    )
    assert set(record.thresholds) <= {"min_entailment", "max_contradiction"}
    path = save_calibration(record, tmp_path / "calibration.json")
    loaded = NLIReranker(plain.model, calibration=str(path), show_progress=False)
    assert loaded.calibration == record.calibration and loaded.calibration_file == record
    assert NLIReranker(plain.model, calibration=record, show_progress=False).fingerprint == loaded.fingerprint
    assert "fitted for model" not in caplog.text


def test_a_file_for_other_weights_warns_and_the_wrong_kind_fails(tiny_deberta_dir, tiny_deberta_permuted_dir, caplog):
    plain = NLIReranker(str(tiny_deberta_dir), show_progress=False)
    record = make_record()  # fitted for fingerprint "abc"
    with caplog.at_level(logging.WARNING, logger="rerank.calibration"):
        reranker = NLIReranker(plain.model, calibration=record, show_progress=False)
    assert reranker.calibration == Temperature(1.5) and "was fitted for model m (fingerprint abc)" in caplog.text
    platt = make_record(kind="platt", parameters={"slope": 1.0, "intercept": 0.0}, thresholds={})
    with pytest.raises(ValueError, match=r"holds Platt scaling, but NLIReranker.*takes a Temperature"):
        NLIReranker(plain.model, calibration=platt, show_progress=False)
    with pytest.raises(ValueError, match="takes a Temperature"):
        NLIReranker(plain.model, calibration=Platt(1.0, 0.0), show_progress=False)
    with pytest.raises(TypeError, match="calibration must be a file path"):
        NLIReranker(plain.model, calibration=1.5, show_progress=False)


def test_two_label_model_calibrates_the_same_way(tmp_path_factory):
    directory = build_tiny_deberta(tmp_path_factory.mktemp("tiny-2"), {0: "entailment", 1: "not_entailment"})
    plain = NLIReranker(str(directory), granularity="passage", fusion_weight=None, show_progress=False)
    record = calibrate_nli(plain, tiny_pairs(plain, n=40))
    assert record.model.labels == ["entailment", "not_entailment"]
    assert set(record.thresholds) <= {"min_entailment"}  # a 2-label model has no contradiction column
    calibrated = NLIReranker(plain.model, calibration=record, show_progress=False)
    logits = plain.pair_logits(PREMISES, [HYPOTHESIS] * len(PREMISES))
    scores = calibrated.score_pairs(PREMISES, [HYPOTHESIS] * len(PREMISES))
    np.testing.assert_allclose(scores[:, :2], softmax(logits / record.parameters["temperature"]), atol=1e-6)
    assert (scores[:, 2] == 0).all()


# ---- the mini NLI model: real over-confidence -------------------------------------------------------------------


def test_heldout_nll_and_ece_go_down_on_the_mini_model(mini_nli_dir, shared_dir):
    pairs = read_nli_tsv(shared_dir / "data" / "nli" / "snli_test.tsv", labels=True, limit=400)
    reranker = NLIReranker(str(mini_nli_dir), granularity="passage", fusion_weight=None, show_progress=False)
    fit, held = split_pairs(pairs, 0.5, seed=0)
    record = calibrate_nli(reranker, fit, heldout=held)
    before, after = record.metrics["heldout"]["before"], record.metrics["heldout"]["after"]
    assert record.parameters["temperature"] > 1  # the model is over-confident (TRAINING.md: ECE 0.11 on SNLI test)
    assert after.nll < before.nll and after.ece < before.ece and after.accuracy == before.accuracy
    choice = record.thresholds["min_entailment"]
    assert choice.heldout is not None and choice.heldout.n == 200 and choice.fit.f1 > 0.6
