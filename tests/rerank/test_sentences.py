from __future__ import annotations

from rerank.sentences import split_sentences


def test_splits_on_sentence_ends():
    assert split_sentences("One here. Two there! Three? Four.") == ["One here.", "Two there!", "Three?", "Four."]


def test_keeps_abbreviations_and_decimals_together():
    text = "Smith et al. reported it (see Fig. 2). The dose was 0.5 mg, e.g. daily. Dr. Who agreed."
    assert split_sentences(text) == [
        "Smith et al. reported it (see Fig. 2).",
        "The dose was 0.5 mg, e.g. daily.",
        "Dr. Who agreed.",
    ]


def test_empty_and_unpunctuated_text():
    assert split_sentences("   ") == []
    assert split_sentences("no final stop") == ["no final stop"]


def test_unicode_text():
    assert split_sentences("Ça marche. Ünïcode fine.") == ["Ça marche.", "Ünïcode fine."]
