from __future__ import annotations

import math

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from rerank.records import Document
from retrievers import BM25Retriever, Tokenizer
from retrievers.base import top_k_indices

PLAIN = Tokenizer(stopwords=None, stemmer=None, pattern=r"\w+")


def bm25(documents, **options):
    return BM25Retriever(documents, show_progress=False, **options)


def test_scores_match_a_hand_computed_example():
    # 3 documents; "cat" is in 1 of them (idf = ln(2.5 / 1.5)), lengths 2, 3, 1 (avgdl = 2).
    retriever = bm25(["cat dog", "dog dog bird", "fish"], tokenizer=PLAIN)
    idf = math.log(3 - 1 + 0.5) - math.log(1 + 0.5)
    expected = idf * (1 * 2.5) / (1 + 1.5 * (1 - 0.75 + 0.75 * 2 / 2))
    np.testing.assert_allclose(retriever.scores("cat"), [expected, 0.0, 0.0], rtol=1e-12)
    [candidate] = retriever.retrieve("cat", k=10)
    assert candidate.document.id == "0" and candidate.retriever == "bm25" and candidate.retriever_rank == 1
    assert candidate.retriever_score == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "texts",
    [
        ["the cat sat on the mat", "the dog sat", "a cat and a dog", "birds fly south", "the the the"],
        ["same words here", "same words here too", "same words"],  # every idf negative or zero: epsilon floor
        ["α β γ", "β γ δ", "ε", "", "γ γ γ γ"],  # an empty document, unicode
    ],
)
@pytest.mark.parametrize("query", ["the cat", "dog dog sat", "same words", "γ β", "missing"])
def test_both_engines_agree_with_rank_bm25(texts, query):
    reference = BM25Okapi([PLAIN.tokenize(text) for text in texts], k1=1.2, b=0.5, epsilon=0.3)
    expected = reference.get_scores(PLAIN.tokenize(query))
    for engine in ("sparse", "rank-bm25"):
        retriever = bm25(texts, engine=engine, tokenizer=PLAIN, k1=1.2, b=0.5, epsilon=0.3)
        np.testing.assert_allclose(retriever.scores(query), expected, rtol=1e-12, atol=1e-15)


def test_retrieve_orders_by_score_and_returns_only_matching_documents(corpus):
    retriever = bm25(corpus)
    candidates = retriever.retrieve("heart attack risk", k=10)
    ids = [c.document.id for c in candidates]
    assert ids[0] == "aspirin"
    assert set(ids) == {"aspirin", "statins", "sleep"}
    scores = [c.retriever_score for c in candidates]
    assert scores == sorted(scores, reverse=True)
    assert [c.retriever_rank for c in candidates] == [1, 2, 3]


def test_title_is_indexed(corpus):
    # "Aspirin" appears in the title and the text of its document
    retriever = bm25([Document(id="t", title="Ibuprofen", text="A common painkiller."), *corpus])
    assert retriever.retrieve("ibuprofen", k=3)[0].document.id == "t"


def test_k_larger_than_corpus_returns_every_match(corpus):
    candidates = bm25(corpus).retrieve("paris", k=1000)
    assert {c.document.id for c in candidates} == {"paris", "tower", "cafe"}


def test_k_cuts_the_list(corpus):
    assert len(bm25(corpus).retrieve("heart", k=2)) == 2


def test_queries_with_no_known_terms_return_nothing(corpus):
    retriever = bm25(corpus)
    assert retriever.retrieve("xylophone zebra", k=5) == []
    assert retriever.retrieve("the of a", k=5) == []  # stopwords only


def test_empty_corpus_returns_nothing():
    retriever = bm25([])
    assert len(retriever) == 0
    assert retriever.retrieve("anything", k=5) == []
    assert retriever.retrieve_many(["a query", "another"], k=5) == [[], []]


def test_corpus_of_empty_documents():
    retriever = bm25(["", "   "])
    assert retriever.retrieve("anything", k=5) == []
    assert bm25(["", "  "], engine="rank-bm25").retrieve("anything", k=5) == []


def test_duplicate_ids_are_rejected(corpus):
    with pytest.raises(ValueError, match="duplicate document id 'aspirin'"):
        bm25([*corpus, Document(id="aspirin", text="again")])


def test_unicode_query_and_documents(corpus):
    retriever = bm25(corpus)
    assert retriever.retrieve("café Zürich", k=3)[0].document.id == "cafe"
    assert retriever.retrieve("東京", k=3)[0].document.id == "cafe"


def test_bad_queries_and_k_raise_clear_errors(corpus):
    retriever = bm25(corpus)
    with pytest.raises(ValueError, match="query is empty"):
        retriever.retrieve("", k=3)
    with pytest.raises(ValueError, match="query is empty"):
        retriever.retrieve("   ", k=3)
    with pytest.raises(TypeError, match="query must be a str"):
        retriever.retrieve(None, k=3)
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        retriever.retrieve("heart", k=0)
    with pytest.raises(TypeError, match="k must be a positive int"):
        retriever.retrieve("heart", k=2.5)
    with pytest.raises(ValueError, match="query at position 1"):
        retriever.retrieve_many(["heart", ""], k=3)
    with pytest.raises(TypeError, match="retrieve_many takes a list"):
        retriever.retrieve_many("heart", k=3)


def test_bad_settings_raise_naming_the_value(corpus):
    with pytest.raises(ValueError, match="unknown BM25 engine 'lucene'"):
        bm25(corpus, engine="lucene")
    with pytest.raises(ValueError, match=r"b must be in \[0.0, 1.0\], got 1.5"):
        bm25(corpus, b=1.5)
    with pytest.raises(ValueError, match=r"k1 must be >= 0\.0"):
        bm25(corpus, k1=-1)
    with pytest.raises(TypeError, match="document at position 1"):
        bm25(["fine", None])


def test_strings_get_their_position_as_id():
    candidates = bm25(["cat", "dog", "cat dog"], tokenizer=PLAIN).retrieve("dog", k=5)
    assert {c.document.id for c in candidates} == {"1", "2"}


def test_retrieve_many_equals_retrieve(corpus):
    retriever = bm25(corpus)
    queries = ["heart risk", "paris tower", "coffee blood pressure"]
    assert retriever.retrieve_many(queries, k=4) == [retriever.retrieve(q, k=4) for q in queries]


def test_inputs_are_not_mutated(corpus):
    before = list(corpus)
    bm25(corpus).retrieve("heart", k=3)
    assert corpus == before


def test_repeated_query_terms_count_repeatedly():
    retriever = bm25(["cat dog", "dog bird", "cat cat fish", "bird", "owl", "eel"], tokenizer=PLAIN)
    once, twice = retriever.scores("cat dog"), retriever.scores("cat cat dog")
    assert twice[2] > once[2] and twice[1] == once[1]


def test_ties_are_broken_by_corpus_order():
    retriever = bm25(["cat", "dog", "cat", "bird", "cat"], tokenizer=PLAIN)
    assert [c.document.id for c in retriever.retrieve("cat", k=2)] == ["0", "2"]


def test_top_k_indices_is_deterministic_with_ties():
    scores = np.array([1.0, 5.0, 3.0, 5.0, 3.0, 3.0, 0.0])
    assert top_k_indices(scores, 4).tolist() == [1, 3, 2, 4]
    assert top_k_indices(scores, 10).tolist() == [1, 3, 2, 4, 5, 0, 6]
