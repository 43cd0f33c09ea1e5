"""How NLIReranker builds pairs: direction, lexical pre-selection (max_segments) and one pass for many queries."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from rerank import Candidate, Document, NLIReranker, Pipeline
from rerank.loading import load_model
from rerank.preselect import SEGMENT_CAP, overlap_scores, preselect_tokenizer, select_segments
from rerank.tokenize import Tokenizer

CLAIM = "A man is playing a guitar."
PASSAGES = [
    "A man plays the guitar on a stage in front of a large crowd.",
    "Nobody is playing any instrument; the hall is empty.",
    "It rained all day in the city.",
]
# Four sentences; the third shares the most terms with CLAIM, the second contradicts it.
ABSTRACT = (
    "The weather was mild that evening. No man was playing anything. "
    "A man is playing a guitar and singing on the stage. The audience cheered."
)


@pytest.fixture(scope="module")
def mini_model(mini_nli_dir):
    return load_model(str(mini_nli_dir), backend="torch", precision="fp32")  # fp32: the 1e-5 comparisons


def reranker(model, **settings) -> NLIReranker:
    settings = {"granularity": "passage", "fusion_weight": None, "show_progress": False} | settings
    return NLIReranker(model, **settings)


def probabilities(model_reranker: NLIReranker, premises, hypotheses) -> np.ndarray:
    """What the head makes of pair_logits, the reference the directions are checked against."""
    return model_reranker.head(model_reranker.pair_logits(premises, hypotheses))


# --- direction -------------------------------------------------------------------------------------------------


def test_passage_premise_is_the_default_and_reads_the_passage_first(mini_model):
    default = reranker(mini_model)
    assert default.direction == "passage-premise"
    expected = probabilities(default, PASSAGES, [CLAIM] * len(PASSAGES))
    np.testing.assert_allclose(default.score(CLAIM, PASSAGES), expected, atol=1e-6)


def test_query_premise_swaps_premise_and_hypothesis(mini_model):
    swapped = reranker(mini_model, direction="query-premise")
    expected = probabilities(swapped, [CLAIM] * len(PASSAGES), PASSAGES)
    np.testing.assert_allclose(swapped.score(CLAIM, PASSAGES), expected, atol=1e-5)
    # The mini model does read the two orders differently: the swap is not a no-op.
    assert not np.allclose(expected, reranker(mini_model).score(CLAIM, PASSAGES), atol=1e-3)


def test_both_is_the_mean_of_the_two_directions(mini_model):
    both = reranker(mini_model, direction="both")
    forward = probabilities(both, PASSAGES, [CLAIM] * len(PASSAGES))
    backward = probabilities(both, [CLAIM] * len(PASSAGES), PASSAGES)
    scores = both.score(CLAIM, PASSAGES)
    np.testing.assert_allclose(scores, (forward + backward) / 2, atol=1e-5)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-6)


def test_both_is_symmetric_in_query_and_passage(mini_model):
    both = reranker(mini_model, direction="both")
    a, b = "A woman reads a book in the park.", "A person is reading outdoors."
    np.testing.assert_allclose(both.score(a, [b]), both.score(b, [a]), atol=1e-5)


def test_query_premise_at_sentence_granularity_keeps_evidence_and_calibration(mini_model):
    from rerank.head import Temperature

    swapped = reranker(
        mini_model, granularity="sentence", direction="query-premise", calibration=Temperature(2.0), max_segments=None
    )
    sentences = swapped.segments(Document(id="a", text=ABSTRACT))
    logits = swapped.pair_logits([CLAIM] * len(sentences), sentences)
    pair_probabilities = swapped.head(logits)  # the head divides by the temperature
    (result,) = swapped.rerank(CLAIM, [Document(id="a", text=ABSTRACT)])
    best = int(pair_probabilities[:, 0].argmax())
    assert result.evidence is not None and result.evidence.sentence == sentences[best]
    assert result.scores.entailment == pytest.approx(float(pair_probabilities[best, 0]), abs=1e-5)


def test_only_the_passage_is_truncated_whichever_side_it_is_on(mini_model):
    swapped = reranker(mini_model, direction="query-premise", max_length=48)
    long_passage = "The guitar festival lasted the whole weekend and drew players from many countries. " * 10
    before = swapped.truncated_pairs
    scores = swapped.score(CLAIM, [long_passage])
    assert scores.shape == (1, 3) and swapped.truncated_pairs == before + 1


def test_direction_is_in_the_fingerprint_only_when_not_default(mini_model):
    default, explicit = reranker(mini_model), reranker(mini_model, direction="passage-premise")
    assert default.fingerprint == explicit.fingerprint
    prints = {reranker(mini_model, direction=d).fingerprint for d in ("passage-premise", "query-premise", "both")}
    assert len(prints) == 3


def test_unknown_direction_lists_the_valid_ones(mini_model):
    with pytest.raises(ValueError, match=r"direction must be one of .*query-premise.*got 'sideways'"):
        reranker(mini_model, direction="sideways")


# --- lexical pre-selection ---------------------------------------------------------------------------------------


def test_overlap_counts_distinct_query_terms_with_the_bm25_tokenizer():
    tokenize = Tokenizer().tokenize
    # "playing"/"plays" stem to "play"; "a", "is" are stopwords; repeats count once.
    assert overlap_scores(CLAIM, ["He plays, plays and plays.", "A man, a guitar.", "Nothing here."], tokenize) == [
        1,
        2,
        0,
    ]


def test_select_segments_keeps_the_best_in_document_order_ties_to_the_earlier():
    tokenize = Tokenizer().tokenize
    segments = ["guitar", "nothing", "man guitar", "man", "play man guitar"]
    assert select_segments(CLAIM, segments, 2, tokenize) == [2, 4]
    assert select_segments(CLAIM, segments, 3, tokenize) == [0, 2, 4]
    assert select_segments(CLAIM, ["x", "y"], 5, tokenize) == [0, 1]
    assert select_segments("zzz", ["a b", "c d", "e f"], 2, tokenize) == [0, 1]  # no overlap anywhere: the first m
    with pytest.raises(ValueError, match="m must be a positive int"):
        select_segments(CLAIM, segments, 0, tokenize)


def test_preselect_tokenizer_follows_the_language_and_falls_back_to_words():
    assert preselect_tokenizer("fr")("Les chats mangeaient") == ["chat", "mang"]
    assert preselect_tokenizer("xx-unknown")("Hello World") == ["hello", "world"]


def test_max_segments_scores_only_the_highest_overlap_segments(mini_model):
    document = Document(id="a", text=ABSTRACT)
    every = reranker(mini_model, granularity="sentence", max_segments=None)
    one = reranker(mini_model, granularity="sentence", max_segments=1)
    sentences = every.segment(document)
    chosen = one.selected_segments(CLAIM, document)
    assert [s.text for s in chosen] == [sentences[2].text]  # the guitar sentence
    assert one.pair_count(document) == 1 and every.pair_count(document) == len(sentences) == 4
    # The document's row is that sentence's pair probabilities, and it is the evidence.
    pair = probabilities(one, [sentences[2].text], [CLAIM])[0]
    row = one.score(CLAIM, [document])[0]
    assert row[0] == pytest.approx(pair[0], abs=1e-6) and row[2] == pytest.approx(pair[2], abs=1e-6)
    (result,) = one.rerank(CLAIM, [document])
    assert result.evidence is not None and result.evidence.index == sentences[2].sentence


def test_max_segments_counts_model_pairs(mini_model, caplog):
    document = Document(id="a", text=ABSTRACT)
    two = reranker(mini_model, granularity="sentence", max_segments=2)
    calls = []
    original = two._scorer.logits

    def counting(passages, queries, **kwargs):
        calls.append(len(passages))
        return original(passages, queries, **kwargs)

    two._scorer.logits = counting  # type: ignore[method-assign]
    two.score(CLAIM, [document, Document(id="b", text="One sentence only.")])
    assert calls == [3]  # 2 of the abstract's 4 sentences, plus the one-sentence document


def test_max_contradiction_scores_every_segment_so_a_contradiction_is_never_hidden(mini_model):
    # The contradicting sentence shares only "man" and "playing" with the claim; m=1 leaves it out of score().
    document = Document(id="a", text=ABSTRACT)
    one = reranker(mini_model, granularity="sentence", max_segments=1)
    every = reranker(mini_model, granularity="sentence", max_segments=None)
    sentences = every.segments(document)
    assert probabilities(every, [sentences[1]], [CLAIM])[0, 2] > 0.5  # "No man was playing anything." contradicts
    contradiction = every.score(CLAIM, [document])[0, 2]
    assert one.score(CLAIM, [document])[0, 2] < contradiction - 0.2  # pre-selected: that sentence is unread
    (filtered,) = one.rerank(CLAIM, [document], max_contradiction=0.3)
    assert not filtered.kept
    assert filtered.scores.contradiction == pytest.approx(contradiction, abs=1e-6)


def test_max_segments_is_in_the_fingerprint_only_where_it_acts(mini_model):
    assert (
        reranker(mini_model, granularity="sentence", max_segments=None).fingerprint
        != reranker(mini_model, granularity="sentence", max_segments=3).fingerprint
    )
    assert reranker(mini_model).fingerprint == reranker(mini_model, max_segments=3).fingerprint  # passage: no effect


def test_the_default_scores_the_one_best_overlapping_segment(mini_model):
    default = NLIReranker(mini_model, show_progress=False)
    assert default.granularity == "sentence" and default.max_segments == 1
    assert default.pair_count(Document(id="a", text=ABSTRACT)) == 1


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_max_segments_must_be_a_positive_int_or_none(mini_model, bad):
    with pytest.raises(ValueError, match="max_segments must be a positive int or None"):
        reranker(mini_model, granularity="sentence", max_segments=bad)


def test_a_huge_document_is_capped_and_logged(mini_model, caplog):
    every = reranker(mini_model, granularity="sentence", max_segments=None)
    sentences = [f"Filler sentence number {i}." for i in range(SEGMENT_CAP + 10)]
    sentences[SEGMENT_CAP + 5] = "A man is playing a guitar."
    document = Document(id="huge", text=" ".join(sentences))
    with caplog.at_level(logging.WARNING, logger="rerank.nli_reranker"):
        chosen = every.selected_segments(CLAIM, document)
    assert len(chosen) == SEGMENT_CAP and every.pair_count(document) == SEGMENT_CAP
    assert "A man is playing a guitar." in [s.text for s in chosen]  # the overlap keeps the relevant one
    assert "'huge' has 266 segments" in caplog.text


# --- many queries in one pass ------------------------------------------------------------------------------------

QUERIES = ["A man is playing a guitar.", "It is raining in the city.", "Nobody is at the concert."]
CANDIDATES = [
    [Candidate(document=Document(id=f"d{i}", text=text), retriever="list", retriever_score=float(3 - i),
               retriever_rank=i + 1) for i, text in enumerate([*PASSAGES, ABSTRACT])],
    [Document(id="r", text="Heavy rain fell over the city all afternoon."), "Sun all week.", ABSTRACT],
    [],
]  # fmt: skip


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"granularity": "sentence", "fusion_weight": 2.0, "max_segments": None},
        {"granularity": "sentence", "max_segments": 2, "direction": "both"},
        {"granularity": "window", "window_tokens": 24, "direction": "query-premise"},
    ],
)
def test_rerank_many_equals_rerank_one_query_at_a_time(mini_model, settings):
    model_reranker = reranker(mini_model, batch_size=4, **settings)
    calls = []
    original = model_reranker._scorer.logits

    def counting(passages, queries, **kwargs):
        calls.append(len(passages))
        return original(passages, queries, **kwargs)

    model_reranker._scorer.logits = counting  # type: ignore[method-assign]
    together = model_reranker.rerank_many(QUERIES, CANDIDATES, top_k=3, min_entailment=0.1)
    assert len(calls) == (2 if settings.get("direction") == "both" else 1)  # one pass (per direction)
    alone = [model_reranker.rerank(q, c, top_k=3, min_entailment=0.1) for q, c in zip(QUERIES, CANDIDATES, strict=True)]
    assert len(together) == len(alone) == 3 and together[2] == []
    for many, one in zip(together, alone, strict=True):
        assert [r.document.id for r in many] == [r.document.id for r in one]
        assert [r.kept for r in many] == [r.kept for r in one]
        np.testing.assert_allclose([r.score for r in many], [r.score for r in one], atol=1e-5)
        for a, b in zip(many, one, strict=True):
            np.testing.assert_allclose(
                [a.scores.entailment, a.scores.neutral, a.scores.contradiction],
                [b.scores.entailment, b.scores.neutral, b.scores.contradiction],
                atol=1e-5,
            )
            assert (a.evidence and a.evidence.sentence) == (b.evidence and b.evidence.sentence)


def test_rerank_many_checks_its_arguments(mini_model):
    model_reranker = reranker(mini_model)
    with pytest.raises(TypeError, match="queries must be a list of str"):
        model_reranker.rerank_many("one query", [PASSAGES])
    with pytest.raises(ValueError, match="2 queries but 1 candidate lists"):
        model_reranker.rerank_many(["a", "b"], [PASSAGES])
    with pytest.raises(ValueError, match="query"):
        model_reranker.rerank_many(["a", " "], [PASSAGES, PASSAGES])
    assert model_reranker.rerank_many([], []) == []


class ListRetriever:
    def __init__(self, texts):
        self.documents = [Document(id=f"d{i}", text=text) for i, text in enumerate(texts)]

    def retrieve(self, query, k):
        return [Candidate(document=d, retriever="list", retriever_score=float(len(self.documents) - i),
                          retriever_rank=i + 1) for i, d in enumerate(self.documents[:k])]  # fmt: skip


def test_pipeline_search_many_is_one_pass_and_equals_search(mini_model):
    model_reranker = reranker(mini_model, granularity="sentence", fusion_weight=1.0, max_segments=None)
    pipeline = Pipeline(ListRetriever([*PASSAGES, ABSTRACT]), model_reranker, k=4, top_k=2, max_contradiction=0.9)
    passes = []
    original = model_reranker._scorer.logits

    def counting(passages, queries, **kwargs):
        passes.append(len(passages))
        return original(passages, queries, **kwargs)

    model_reranker._scorer.logits = counting  # type: ignore[method-assign]
    many = pipeline.search_many(QUERIES)
    assert len(passes) == 1
    for query, results in zip(QUERIES, many, strict=True):
        one = pipeline.search(query)
        assert [r.document.id for r in results] == [r.document.id for r in one]
        np.testing.assert_allclose([r.score for r in results], [r.score for r in one], atol=1e-5)


# --- command line ------------------------------------------------------------------------------------------------


def test_cli_direction_and_max_segments_reach_the_reranker(mini_nli_dir, mini_model, capsys):
    import json

    from rerank_cli.main import main

    common = ["score", "--model", str(mini_nli_dir), "--backend", "torch", "--precision", "fp32", "--fusion-weight",
              "none", "--query", CLAIM, "--doc", ABSTRACT, "--json"]  # fmt: skip
    assert main([*common, "--direction", "query-premise", "--max-segments", "1"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    expected = reranker(mini_model, granularity="sentence", direction="query-premise", max_segments=1)
    assert result["entailment"] == pytest.approx(expected.score(CLAIM, [ABSTRACT])[0, 0], abs=1e-5)
    with pytest.raises(SystemExit) as exit_info:
        main([*common, "--max-segments", "0"])
    assert exit_info.value.code == 2
    assert "--max-segments: expected a positive int or 'all', got '0'" in capsys.readouterr().err
