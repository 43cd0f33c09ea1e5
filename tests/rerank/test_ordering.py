"""result_order: kept before filtered out, best first, ties to the better retriever rank, then input position."""

from __future__ import annotations

import numpy as np

from rerank.ordering import result_order
from rerank.records import Candidate, Document


def candidates(ranks):
    return [Candidate(document=Document(id=f"d{i}", text="x"), retriever_rank=r) for i, r in enumerate(ranks)]


def test_best_first_then_filtered_ones():
    order = result_order(np.array([0.2, 0.9, 0.5, 0.7]), np.array([True, True, False, True]), candidates([1, 2, 3, 4]),
                         None)  # fmt: skip
    assert order == [1, 3, 0, 2]


def test_top_k_cuts_kept_results_only():
    kept = np.array([True, False, True, True, False])
    order = result_order(np.array([0.1, 0.9, 0.8, 0.3, 0.2]), kept, candidates([1, 2, 3, 4, 5]), 1)
    assert order == [2, 1, 4], "one kept result, then every filtered-out one, best first"


def test_ties_go_to_retriever_rank_then_input_position():
    order = result_order(np.array([0.5, 0.5, 0.5, 0.5]), np.ones(4, dtype=bool), candidates([3, 1, 2, 1]), None)
    assert order == [1, 3, 2, 0]


def test_empty():
    assert result_order(np.array([]), np.array([], dtype=bool), [], 3) == []
