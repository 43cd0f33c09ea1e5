"""Paired t-test and permutation test sanity: identical runs, clearly better runs, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from eval import paired_t_test, permutation_test
from eval.significance import paired_scores


def test_identical_runs_give_p_one():
    scores = np.random.default_rng(0).random(50).tolist()
    assert paired_t_test(scores, scores) == 1.0
    assert permutation_test(scores, scores) == 1.0


def test_clearly_better_run_gives_small_p():
    rng = np.random.default_rng(1)
    base = rng.random(100)
    better = np.clip(base + 0.2 + rng.normal(0, 0.05, 100), 0, 1.5)
    assert paired_t_test(better, base) < 1e-10
    p = permutation_test(better, base, n_resamples=2000)
    assert p == pytest.approx(1 / 2001)  # no resample beats the observed difference


def test_noise_is_not_significant_and_tests_are_symmetric():
    rng = np.random.default_rng(2)
    a, b = rng.random(60), rng.random(60)
    assert paired_t_test(a, b) > 0.05
    assert permutation_test(a, b) > 0.05
    assert paired_t_test(a, b) == pytest.approx(paired_t_test(b, a))
    assert permutation_test(a, b) == permutation_test(b, a)


def test_t_test_matches_the_formula():
    from scipy import stats

    a, b = [0.1, 0.5, 0.9, 0.4], [0.0, 0.45, 0.7, 0.41]
    d = np.subtract(a, b)
    t = d.mean() / (d.std(ddof=1) / np.sqrt(len(d)))
    assert paired_t_test(a, b) == pytest.approx(2 * stats.t.sf(abs(t), len(d) - 1))


def test_permutation_test_is_reproducible_with_its_seed():
    rng = np.random.default_rng(3)
    a, b = rng.random(30), rng.random(30) * 0.9
    assert permutation_test(a, b, seed=7) == permutation_test(a, b, seed=7)


def test_degenerate_and_bad_inputs():
    assert paired_t_test([0.5], [0.2]) == 1.0
    assert paired_t_test([0.5, 0.6], [0.4, 0.5]) == 0.0  # constant non-zero difference
    with pytest.raises(ValueError, match="equal length"):
        paired_t_test([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match="at least one query"):
        permutation_test([], [])
    with pytest.raises(ValueError, match="n_resamples"):
        permutation_test([0.1], [0.2], n_resamples=0)
    with pytest.raises(ValueError, match="different queries"):
        paired_scores({"q1": 0.1}, {"q2": 0.1})
