"""ScoreCache: LRU bounds, counters, keys, and that cached scores are exactly the uncached ones."""

from __future__ import annotations

import numpy as np
import pytest

from rerank.cache import ScoreCache
from rerank.loading import load_model
from rerank.nli_reranker import NLIReranker
from rerank.scorer import CrossEncoderScorer

PREMISES = ["A man is playing a guitar on stage.", "The cat sleeps on the warm mat.", "Ünïcödé text, naïve café."]
HYPOTHESIS = "Someone is making music."


class CountingRunner:
    """Wraps a real runner and counts the pairs it is asked to run (the model itself still runs)."""

    def __init__(self, runner):
        self._runner = runner
        self.backend, self.precision, self.input_names = runner.backend, runner.precision, runner.input_names
        self.pairs = 0

    def __call__(self, features):
        self.pairs += len(features["input_ids"])
        return self._runner(features)


@pytest.fixture(scope="module")
def loaded(tiny_deberta_dir):
    model = load_model(str(tiny_deberta_dir), backend="torch")
    model.runner = CountingRunner(model.runner)
    return model


def test_key_separates_every_field():
    base = ("fingerprint", "passage-first", "premise", "hypothesis")
    keys = {ScoreCache.key(*base)}
    for position, other in enumerate(("fingerprint2", "query-first", "premise2", "hypothesis2")):
        changed = list(base)
        changed[position] = other
        keys.add(ScoreCache.key(*changed))
    assert len(keys) == 5
    # field boundaries are length-prefixed: moving text between premise and hypothesis is another key
    assert ScoreCache.key("f", "o", "ab", "c") != ScoreCache.key("f", "o", "a", "bc")


def test_scorer_fingerprint_covers_weights_backend_precision_and_max_length(loaded):
    base = CrossEncoderScorer(loaded, show_progress=False)
    same = CrossEncoderScorer(loaded, show_progress=False, batch_size=3)
    shorter = CrossEncoderScorer(loaded, show_progress=False, max_length=64)
    assert base.fingerprint == same.fingerprint, "batch size does not change a score"
    assert shorter.fingerprint != base.fingerprint


def test_lru_eviction_and_counters():
    cache = ScoreCache(max_entries=2)
    rows = np.arange(6, dtype=np.float32).reshape(3, 2)
    cache.put_many([b"a", b"b"], rows[:2])
    assert cache.get_many([b"a"])[0].tolist() == [0.0, 1.0]  # a is now the most recent
    cache.put_many([b"c"], rows[2:])
    assert len(cache) == 2
    found = cache.get_many([b"a", b"b", b"c"])
    assert found[1] is None and found[0] is not None and found[2] is not None
    assert (cache.hits, cache.misses) == (3, 1)
    assert cache.stats()["hit_rate"] == pytest.approx(0.75)
    cache.clear()
    assert len(cache) == 0 and cache.hits == cache.misses == 0


def test_stored_rows_are_copies_and_read_only():
    cache = ScoreCache()
    rows = np.ones((1, 3), dtype=np.float32)
    cache.put_many([b"k"], rows)
    rows[0, 0] = 5.0
    stored = cache.get_many([b"k"])[0]
    assert stored[0] == 1.0
    with pytest.raises(ValueError):
        stored[0] = 2.0


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10"])
def test_bad_max_entries(bad):
    with pytest.raises(ValueError, match="max_entries"):
        ScoreCache(max_entries=bad)


def test_put_many_length_mismatch():
    with pytest.raises(ValueError, match="2 keys but 1 rows"):
        ScoreCache().put_many([b"a", b"b"], np.zeros((1, 3)))


def test_scorer_rejects_a_non_cache(loaded):
    with pytest.raises(ValueError, match="cache"):
        CrossEncoderScorer(loaded, cache={})


def test_cached_call_is_exactly_the_uncached_call(loaded):
    cache = ScoreCache()
    reranker = NLIReranker(loaded, granularity="passage", cache=cache, show_progress=False)
    before = loaded.runner.pairs
    first = reranker.score(HYPOTHESIS, PREMISES)
    assert loaded.runner.pairs - before == 3 and (cache.hits, cache.misses) == (0, 3)
    second = reranker.score(HYPOTHESIS, PREMISES)
    assert loaded.runner.pairs - before == 3, "a fully cached call must not run the model"
    assert (cache.hits, cache.misses) == (3, 3)
    np.testing.assert_array_equal(first, second)
    uncached = NLIReranker(loaded, granularity="passage", show_progress=False).score(HYPOTHESIS, PREMISES)
    np.testing.assert_array_equal(first, uncached)


def test_partial_hits_and_duplicates(loaded):
    cache = ScoreCache()
    scorer = CrossEncoderScorer(loaded, cache=cache, show_progress=False)
    first = scorer.logits(PREMISES[:2], [HYPOTHESIS] * 2)
    before = loaded.runner.pairs
    mixed = scorer.logits([PREMISES[1], PREMISES[2], PREMISES[2]], [HYPOTHESIS] * 3)
    assert loaded.runner.pairs - before == 1, "only the new pair runs, once although it is repeated"
    np.testing.assert_array_equal(mixed[0], first[1])
    np.testing.assert_array_equal(mixed[1], mixed[2])
    # a pair scored in another batch differs from the cached one only by padding arithmetic
    alone = CrossEncoderScorer(loaded, show_progress=False).logits([PREMISES[1]], [HYPOTHESIS])
    np.testing.assert_allclose(mixed[0], alone[0], atol=1e-5)


def test_max_length_and_order_are_part_of_the_key(loaded):
    cache = ScoreCache()
    CrossEncoderScorer(loaded, cache=cache, max_length=64, show_progress=False).logits(PREMISES, [HYPOTHESIS] * 3)
    CrossEncoderScorer(loaded, cache=cache, max_length=32, show_progress=False).logits(PREMISES, [HYPOTHESIS] * 3)
    scorer = CrossEncoderScorer(loaded, cache=cache, max_length=64, show_progress=False)
    scorer.logits(PREMISES, [HYPOTHESIS] * 3, query_first=True)
    assert cache.hits == 0 and len(cache) == 9


def test_cache_bound_holds_while_scoring(loaded):
    cache = ScoreCache(max_entries=2)
    scorer = CrossEncoderScorer(loaded, cache=cache, show_progress=False)
    logits = scorer.logits(PREMISES, [HYPOTHESIS] * 3)
    assert len(cache) == 2 and logits.shape == (3, 3)


def test_empty_call_touches_nothing(loaded):
    cache = ScoreCache()
    assert CrossEncoderScorer(loaded, cache=cache).logits([], []).shape == (0, 3)
    assert cache.hits == cache.misses == 0
