"""Segments: passage, sentence and window granularity, title handling, character spans, and what windows find."""

from __future__ import annotations

import itertools

import pytest

from rerank import Document, NLIReranker
from rerank.segmenter import segment_document, sentence_spans, word_offsets

TEXT = "Alpha beta gamma. Delta epsilon. Zeta eta theta iota. Kappa."


def test_sentence_spans_point_at_the_sentences():
    document = Document(id="d", text=TEXT)
    for segment in segment_document(document, "sentence"):
        start, end = segment.span
        assert TEXT[start:end] == segment.text


def test_given_sentences_not_in_the_text_have_no_span():
    document = Document(id="d", text="One. Two.", metadata={"sentences": ["One.", "Rewritten two."]})
    spans = [segment.span for segment in segment_document(document, "sentence")]
    assert spans == [(0, 4), None]
    assert sentence_spans("a b a", ["a", "a"]) == [(0, 1), (4, 5)]


def test_windows_pack_sentences_up_to_the_budget_with_one_sentence_overlap():
    document = Document(id="d", text=TEXT)  # sentences of 3, 2, 4 and 1 words
    windows = segment_document(document, "window", window_tokens=6)
    assert [w.text for w in windows] == ["Alpha beta gamma. Delta epsilon.", "Delta epsilon. Zeta eta theta iota.",
                                         "Zeta eta theta iota. Kappa."]  # fmt: skip
    assert [w.sentence for w in windows] == [0, 1, 2]
    for window in windows:
        assert TEXT[window.span[0] : window.span[1]] == window.text
        assert len(word_offsets(window.text)) <= 6


def test_a_sentence_over_the_budget_becomes_strided_token_windows():
    long_sentence = " ".join(f"W{i}" for i in range(20))
    document = Document(id="d", text=f"Short one. {long_sentence}. Last.")
    windows = segment_document(document, "window", window_tokens=8)
    inner = [w for w in windows if w.sentence == 1]
    assert [len(word_offsets(w.text)) for w in inner] == [8, 8, 8]  # stride 6: words 0-7, 6-13, 12-19 (+ ".")
    assert inner[0].text.split()[-2:] == ["W6", "W7"] and inner[1].text.split()[:2] == ["W6", "W7"]
    for window in windows:
        assert document.text[window.span[0] : window.span[1]] == window.text
    covered = set().union(*(range(*w.span) for w in windows))
    assert all(i in covered for i, char in enumerate(document.text) if not char.isspace())


def test_text_without_sentence_boundaries_is_read_to_the_end():
    text = " ".join(f"token{i}" for i in range(1000))
    windows = segment_document(Document(id="d", text=text), "window", window_tokens=100)
    assert windows[0].span[0] == 0 and windows[-1].span[1] == len(text)
    assert all(len(word_offsets(w.text)) <= 100 for w in windows)


def test_title_handling_in_windows_and_spans_exclude_the_title():
    document = Document(id="d", title="Greek letters", text=TEXT)
    plain = segment_document(document, "window", "ignore", window_tokens=6)
    assert segment_document(document, "window", "sentence", window_tokens=6)[0].text == "Greek letters"
    prefixed = segment_document(document, "window", "prefix", window_tokens=9)
    assert all(w.text.startswith("Greek letters. ") for w in prefixed)
    assert all(TEXT[w.span[0] : w.span[1]] == w.text.removeprefix("Greek letters. ") for w in prefixed)
    assert all(len(word_offsets(w.text)) <= 9 for w in prefixed), "the title's tokens come out of the budget"
    assert plain[0].span == (0, len("Alpha beta gamma. Delta epsilon."))


def test_passage_span_is_the_whole_text():
    (segment,) = segment_document(Document(id="d", title="T", text=TEXT), "passage")
    assert segment.text == "T. " + TEXT and segment.span == (0, len(TEXT))


@pytest.fixture(scope="module")
def mini(mini_nli_dir):
    from rerank.loading import load_model

    return load_model(str(mini_nli_dir), precision="fp32")  # fp32: compared with fp32 references to 1e-5


CAPTIONS = ["A woman is reading a book in the park.", "Two children are building a sandcastle on the beach.",
            "An old woman is feeding pigeons in a square.", "A chef is cutting vegetables in a kitchen.",
            "Three people are waiting at a bus stop.", "A girl is painting a fence white."]  # fmt: skip


def test_windows_find_a_supporting_sentence_past_token_512_that_passage_mode_cannot_read(mini):
    target = "A man is playing a guitar on stage."
    text = " ".join(itertools.islice(itertools.cycle(CAPTIONS), 80)) + f" {target} " + " ".join(CAPTIONS[:2])
    document = Document(id="long", text=text)
    start = text.index(target)
    assert len(mini.tokenizer(text[:start])["input_ids"]) > 512, "the sentence starts past token 512"
    query = "A man is playing an instrument."
    passage = NLIReranker(mini, granularity="passage", fusion_weight=None, show_progress=False)
    window = NLIReranker(mini, granularity="window", window_tokens=16, fusion_weight=None, show_progress=False)
    (read_whole,) = passage.rerank(query, [document])
    assert passage.truncated_pairs == 1, "passage mode cut the document before the sentence"
    (found,) = window.rerank(query, [document])
    assert found.evidence.span[0] <= start and start + len(target) <= found.evidence.span[1]
    assert found.evidence.entailment > 0.9 > read_whole.scores.entailment + 0.3


@pytest.mark.parametrize(
    ("text", "hypothesis"),
    [
        ("John bought a red car. It was made in Germany.", "John bought a car that was made in Germany."),
        ("Mary has a dog. The dog is black.", "Mary has a black dog."),
        ("The cat sat on the mat. The mat was in the kitchen.", "The cat sat in the kitchen."),
    ],
)
def test_an_entailment_that_needs_two_sentences_is_found_by_windows_not_by_single_sentences(mini, text, hypothesis):
    document = Document(id="d", text=text)
    sentence = NLIReranker(mini, granularity="sentence", fusion_weight=None, show_progress=False)
    window = NLIReranker(mini, granularity="window", fusion_weight=None, show_progress=False)
    (alone,) = sentence.rerank(hypothesis, [document])
    (together,) = window.rerank(hypothesis, [document])
    assert alone.scores.entailment < 0.5 < together.scores.entailment
    assert together.evidence.span == (0, len(text))


def test_aggregate_first_and_mean(mini):
    sentences = ["The weather is cold.", "A man is playing a guitar on stage.", "Dogs bark."]
    document = Document(id="d", text=" ".join(sentences))
    query = "A man is playing an instrument."
    pairs = NLIReranker(mini, show_progress=False).score_pairs(sentences, [query] * 3)
    contradiction = pairs[:, 2].max()
    for aggregate, expected in (("first", pairs[0, 0]), ("mean", pairs[:, 0].mean()), ("max", pairs[:, 0].max())):
        every = NLIReranker(mini, aggregate=aggregate, max_segments=None, show_progress=False)
        row = every.score(query, [document])[0]
        scale = min(1.0, 1.0 / (expected + contradiction))  # a conflicting passage is scaled to sum to 1
        assert row[0] == pytest.approx(expected * scale, abs=1e-5), aggregate
        assert row[2] == pytest.approx(contradiction * scale, abs=1e-5), aggregate


def test_decisiveness_orders_by_entailment_plus_contradiction(mini):
    query = "A man is playing an instrument."
    documents = ["The man is famous in his home town.", "Nobody is playing music; the stage is empty.",
                 "A man is playing a guitar on stage."]  # fmt: skip
    literal = NLIReranker(mini, granularity="passage", fusion_weight=None, show_progress=False)
    decisive = NLIReranker(mini, granularity="passage", fusion_weight=None, order="decisiveness", show_progress=False)
    scores = literal.score(query, documents)
    results = decisive.rerank(query, documents)
    assert [r.score for r in results] == pytest.approx(sorted(scores[:, 0] + scores[:, 2], reverse=True))
    assert decisive.fingerprint == literal.fingerprint, "the order is not part of the fingerprint"
    assert results[-1].document.text == documents[0], "the neutral passage is least decisive"


def test_window_budget_must_leave_room_for_the_query(mini):
    with pytest.raises(ValueError, match="leaves no room for the query"):
        NLIReranker(mini, granularity="window", window_tokens=510, max_length=512)
    with pytest.raises(ValueError, match="aggregate"):
        NLIReranker(mini, aggregate="median")
