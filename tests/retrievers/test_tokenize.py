from __future__ import annotations

import pytest

from retrievers.tokenize import STOPWORDS_EN, Tokenizer


def test_default_lowercases_drops_stopwords_and_single_characters_and_stems():
    assert Tokenizer().tokenize("The Trials of a new Drug, in 2019 (phase II)") == [
        "trial",
        "new",
        "drug",
        "2019",
        "phase",
        "ii",
    ]


def test_options_can_be_turned_off():
    tokenizer = Tokenizer(lowercase=False, stopwords=None, stemmer=None, pattern=r"\w+")
    assert tokenizer.tokenize("The Trials of a drug") == ["The", "Trials", "of", "a", "drug"]


def test_custom_stopword_list_is_matched_after_lowercasing():
    tokenizer = Tokenizer(stopwords=["drug", "trial"], stemmer=None)
    assert tokenizer.tokenize("Drug TRIAL results") == ["results"]
    assert tokenizer.stopwords == ("drug", "trial")


def test_unicode_words_are_kept():
    tokens = Tokenizer(stemmer=None).tokenize("Le café crème — naïve Zürich 東京 データ")
    assert tokens == ["le", "café", "crème", "naïve", "zürich", "東京", "データ"]


def test_round_trip_through_dict_gives_an_equal_tokenizer():
    for tokenizer in (Tokenizer(), Tokenizer(stopwords=["x", "y"], stemmer=None, lowercase=False)):
        assert Tokenizer.from_dict(tokenizer.to_dict()) == tokenizer


def test_lucene_stopword_list():
    assert len(STOPWORDS_EN) == 33 and "the" in STOPWORDS_EN


def test_bad_settings_raise_naming_the_value():
    with pytest.raises(ValueError, match="klingon"):
        Tokenizer(stemmer="klingon")
    with pytest.raises(ValueError, match="unknown stopword list 'xx'"):
        Tokenizer(stopwords="xx")
    with pytest.raises(ValueError, match="not a valid regular expression"):
        Tokenizer(pattern="(")
    with pytest.raises(TypeError, match="stemmer"):
        Tokenizer(stemmer=3)
