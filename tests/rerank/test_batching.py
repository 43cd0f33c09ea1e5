"""Length-sorted batching with dynamic padding: rows come back in input order, padding never changes a row, only
the premise is cut. The runner here is a plain function of the padded arrays, so every expected value is computed
independently from the token ids."""

from __future__ import annotations

import numpy as np
import pytest

from rerank.batching import EncodedPairs, encode_pairs, run_batches


class RecordingRunner:
    """Returns, per row, the sum and the count of the unmasked token ids, and records each batch's shape."""

    def __init__(self):
        self.shapes: list[tuple[int, int]] = []

    def __call__(self, features):
        ids, mask = features["input_ids"], features["attention_mask"]
        self.shapes.append(ids.shape)
        return np.stack([(ids * mask).sum(axis=1), mask.sum(axis=1)], axis=1).astype(np.float32)


def encoded(rows):
    return EncodedPairs(input_ids=rows, token_type_ids=None, truncated=np.zeros(len(rows), dtype=bool))


ROWS = [[5, 1, 2], [7], [3, 3, 3, 3, 3], [9, 9], [4, 4, 4, 4], [1]]


@pytest.mark.parametrize("batch_size", [1, 2, 4, 100])
def test_rows_come_back_in_input_order_whatever_the_batch_size(batch_size):
    out = run_batches(encoded(ROWS), RecordingRunner(), input_names=("input_ids", "attention_mask"), pad_token_id=0,
                      batch_size=batch_size, show_progress=False)  # fmt: skip
    expected = np.array([[sum(row), len(row)] for row in ROWS], dtype=np.float32)
    np.testing.assert_array_equal(out, expected)


def test_batches_are_length_sorted_and_padded_to_their_own_longest_row():
    runner = RecordingRunner()
    run_batches(encoded(ROWS), runner, input_names=("input_ids", "attention_mask"), pad_token_id=99, batch_size=2,
                show_progress=False)  # fmt: skip
    # lengths 5, 4 | 3, 2 | 1, 1: each batch is only as wide as its longest row
    assert runner.shapes == [(2, 5), (2, 3), (2, 1)]


def test_token_type_ids_are_zero_padded_and_fed_only_when_asked():
    seen = {}

    def runner(features):
        seen.update(features)
        return np.zeros((len(features["input_ids"]), 1), dtype=np.float32)

    pairs = EncodedPairs([[1, 2, 3], [4]], [[0, 1, 1], [0]], np.zeros(2, dtype=bool))
    run_batches(pairs, runner, input_names=("input_ids", "attention_mask", "token_type_ids"), pad_token_id=0,
                batch_size=4, show_progress=False)  # fmt: skip
    assert seen["token_type_ids"].tolist() == [[0, 1, 1], [0, 0, 0]]
    assert seen["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    seen.clear()
    run_batches(pairs, runner, input_names=("input_ids", "attention_mask"), pad_token_id=0, batch_size=4,
                show_progress=False)  # fmt: skip
    assert "token_type_ids" not in seen


def test_empty_input_runs_nothing():
    runner = RecordingRunner()
    out = run_batches(encoded([]), runner, input_names=("input_ids",), pad_token_id=0, batch_size=4,
                      show_progress=False)  # fmt: skip
    assert out.shape[0] == 0 and runner.shapes == []


@pytest.fixture(scope="module")
def tokenizer():
    from tests.conftest import _deberta_tokenizer

    return _deberta_tokenizer()


def test_only_the_premise_is_truncated(tokenizer):
    query = "Is the cat asleep?"
    long_premise = "word " * 300
    pairs = encode_pairs(tokenizer, [long_premise, "A short one."], [query, query], 32)
    assert pairs.truncated.tolist() == [True, False]
    assert len(pairs.input_ids[0]) == 32
    query_ids = tokenizer(query, add_special_tokens=False)["input_ids"]
    # the query's tokens survive whole at the end of the truncated pair (before the final separator)
    assert pairs.input_ids[0][-len(query_ids) - 1 : -1] == query_ids


def test_query_first_pairs_cut_the_passage_too(tokenizer):
    pairs = encode_pairs(tokenizer, ["word " * 300], ["A question?"], 24, query_first=True)
    query_ids = tokenizer("A question?", add_special_tokens=False)["input_ids"]
    assert len(pairs.input_ids[0]) == 24 and pairs.input_ids[0][1 : 1 + len(query_ids)] == query_ids


def test_a_query_that_leaves_no_room_is_an_error(tokenizer):
    with pytest.raises(ValueError, match="no room is left for the passage"):
        encode_pairs(tokenizer, ["passage"], ["a long query " * 20], 16)
