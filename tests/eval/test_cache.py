"""The on-disk score cache: hits never call the model, values and recorded cost survive a reopen."""

from __future__ import annotations

import numpy as np
import pytest

from eval import CachedScorer, ScoreCache, scorer_fingerprint
from rerank.records import Document


class CountingScorer:
    """A deterministic stand-in reranker that records every document it is asked to score."""

    granularity = "passage"

    def __init__(self):
        self.calls: list[list[str]] = []

    def score(self, query, documents):
        texts = [d.text if isinstance(d, Document) else d for d in documents]
        self.calls.append(texts)
        rows = [[len(t) / 100, 1 - len(t) / 100 - len(query) / 1000, len(query) / 1000] for t in texts]
        return np.array(rows).reshape(len(texts), 3)

    def score_pairs(self, premises, hypotheses):
        self.calls.append(list(premises))
        return np.array([[0.5, 0.25, 0.25] for _ in premises])


def test_second_call_is_served_from_cache(tmp_path):
    model = CountingScorer()
    scorer = CachedScorer(model, tmp_path / "c.sqlite", fingerprint="fake")
    first, seconds, pairs = scorer.score_timed("q", ["alpha", "beta"])
    again, seconds_again, pairs_again = scorer.score_timed("q", ["beta", "alpha", "gamma"])
    assert model.calls == [["alpha", "beta"], ["gamma"]]
    np.testing.assert_array_equal(again[:2], first[::-1])
    assert (scorer.hits, scorer.misses) == (2, 3)
    assert pairs == 2 and pairs_again == 3 and seconds >= 0 and seconds_again >= seconds


def test_cache_persists_and_is_keyed_by_fingerprint_and_query(tmp_path):
    path = tmp_path / "c.sqlite"
    CachedScorer(CountingScorer(), path, fingerprint="m1").score("q", ["alpha"])
    model = CountingScorer()
    reopened = CachedScorer(model, ScoreCache(path), fingerprint="m1")
    reopened.score("q", ["alpha"])
    assert model.calls == []
    CachedScorer(model, path, fingerprint="m2").score("q", ["alpha"])
    CachedScorer(model, path, fingerprint="m1").score("another query", ["alpha"])
    assert model.calls == [["alpha"], ["alpha"]]
    assert len(ScoreCache(path)) == 3


def test_score_pairs_cache_deduplicates(tmp_path):
    model = CountingScorer()
    scorer = CachedScorer(model, tmp_path / "c.sqlite", fingerprint="fake")
    out = scorer.score_pairs(["p1", "p2", "p1"], ["h", "h", "h"])
    assert out.shape == (3, 3) and model.calls == [["p1", "p2"]]
    scores, seconds, pairs = scorer.score_pairs_timed(["p2"], ["h"])
    assert model.calls == [["p1", "p2"]] and pairs == 1 and seconds >= 0 and scores.shape == (1, 3)
    with pytest.raises(ValueError, match="2 premises but 1 hypotheses"):
        scorer.score_pairs(["a", "b"], ["h"])


def test_empty_documents_and_bad_wrapped_object(tmp_path):
    model = CountingScorer()
    scores, seconds, pairs = CachedScorer(model, tmp_path / "c.sqlite", fingerprint="f").score_timed("q", [])
    assert scores.shape == (0, 3) and (seconds, pairs) == (0.0, 0)
    with pytest.raises(TypeError, match="score\\(query, documents\\)"):
        CachedScorer(object(), tmp_path / "c.sqlite", fingerprint="f")
    with pytest.raises(TypeError, match=r"has no fingerprint"):
        CachedScorer(CountingScorer(), tmp_path / "c.sqlite")


def test_real_reranker_cached_scores_match_and_fingerprint_tracks_options(mini_nli_model, tmp_path):
    from rerank import NLIReranker

    passage = NLIReranker(mini_nli_model, granularity="passage", fusion_weight=None, show_progress=False)
    sentence = NLIReranker(mini_nli_model, granularity="sentence", fusion_weight=None, show_progress=False)
    assert scorer_fingerprint(passage) != scorer_fingerprint(sentence)
    docs = [Document(id="a", text="A man plays a guitar on stage. The crowd cheers."), "Nobody is playing music."]
    scorer = CachedScorer(sentence, tmp_path / "c.sqlite")
    direct = sentence.score("A man is playing an instrument.", docs)
    sent: list[int] = []  # pairs that reach the model (max_segments=1 by default: one sentence per document)
    logits = sentence._scorer.logits

    def counting(passages, queries, **kwargs):
        sent.append(len(passages))
        return logits(passages, queries, **kwargs)

    sentence._scorer.logits = counting  # type: ignore[method-assign]
    cold, _, pairs = scorer.score_timed("A man is playing an instrument.", docs)
    warm = scorer.score("A man is playing an instrument.", docs)
    np.testing.assert_allclose(cold, direct, atol=1e-6)
    np.testing.assert_array_equal(warm, cold)
    assert pairs == sum(sent) == 2 and scorer.hits == 2
