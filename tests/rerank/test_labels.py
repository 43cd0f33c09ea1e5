from __future__ import annotations

import numpy as np
import pytest

from rerank.labels import canonical_label, label_map_from_names, to_nli_columns


@pytest.mark.parametrize(
    ("name", "expected"),
    [("ENTAILMENT", "entailment"), ("entail", "entailment"), ("Contradict", "contradiction"),
     ("not_entailment", "not_entailment"), ("Not Entailment", "not_entailment"), ("neutral", "neutral"),
     ("LABEL_0", None)],
)  # fmt: skip
def test_canonical_label(name, expected):
    assert canonical_label(name) == expected


def test_three_label_orders_are_read_not_assumed():
    deberta = label_map_from_names({0: "contradiction", 1: "entailment", 2: "neutral"})
    mdeberta = label_map_from_names({"0": "entailment", "1": "neutral", "2": "contradiction"})
    probabilities = np.array([[0.1, 0.7, 0.2]])
    assert to_nli_columns(probabilities, deberta).tolist() == [[0.7, 0.2, 0.1]]
    assert to_nli_columns(probabilities, mdeberta).tolist() == [[0.1, 0.7, 0.2]]


def test_two_label_model_puts_the_rest_in_neutral():
    label_map = label_map_from_names(["not_entailment", "entailment"])
    assert not label_map.has_contradiction
    assert to_nli_columns(np.array([[0.3, 0.7]]), label_map).tolist() == [[0.7, 0.3, 0.0]]


def test_generic_label_names_ask_for_labels_override():
    with pytest.raises(ValueError, match="pass labels="):
        label_map_from_names({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})


def test_one_logit_points_to_relevance_reranker():
    with pytest.raises(ValueError, match="RelevanceReranker"):
        label_map_from_names(["LABEL_0"])


def test_three_labels_need_all_three_nli_classes():
    with pytest.raises(ValueError, match="entailment, neutral and contradiction"):
        label_map_from_names(["entailment", "not_entailment", "neutral"])
