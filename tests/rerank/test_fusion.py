"""zscore and fused_scores against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rerank.fusion import fused_scores, zscore


def test_zscore_uses_the_population_standard_deviation():
    # mean 2, population std sqrt(2/3)
    expected = [-1 / math.sqrt(2 / 3), 0.0, 1 / math.sqrt(2 / 3)]
    np.testing.assert_allclose(zscore([1.0, 2.0, 3.0]), expected, atol=1e-12)
    np.testing.assert_allclose(zscore(np.array([1.0, 2.0, 3.0])), expected, atol=1e-12)


@pytest.mark.parametrize("scores", [[4.0, 4.0, 4.0], [1.0, None, 2.0], [], [7.0]])
def test_zscore_is_zero_when_undefined(scores):
    assert zscore(scores).tolist() == [0.0] * len(scores)


def test_fused_scores_add_weighted_entailment_to_the_z_score():
    fused = fused_scores([10.0, 0.0], np.array([0.2, 0.9]), 2.0)
    np.testing.assert_allclose(fused, [1.0 + 0.4, -1.0 + 1.8], atol=1e-12)


def test_without_retriever_scores_the_order_is_entailment_alone():
    fused = fused_scores([None, None, None], np.array([0.1, 0.7, 0.4]), 3.0)
    np.testing.assert_allclose(fused, [0.3, 2.1, 1.2], atol=1e-12)


def test_hybrid_retrieval_uses_the_same_zscore():
    from retrievers import hybrid

    assert hybrid.zscore is zscore
