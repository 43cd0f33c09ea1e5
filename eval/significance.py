"""Paired significance tests over per-query scores of two systems on the same queries.

Example:
    >>> paired_t_test([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
    1.0
    >>> permutation_test([0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4])
    1.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["DEFAULT_RESAMPLES", "DEFAULT_SEED", "paired_scores", "paired_t_test", "permutation_test"]

DEFAULT_SEED = 0
DEFAULT_RESAMPLES = 10_000


def _paired(a: Sequence[float], b: Sequence[float]) -> np.ndarray:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"paired tests need two 1-d sequences of equal length, got shapes {x.shape} and {y.shape}")
    if not len(x):
        raise ValueError("paired tests need at least one query, got none")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("per-query scores must be finite numbers")
    return x - y


def paired_scores(a: Mapping[str, float], b: Mapping[str, float]) -> tuple[list[float], list[float]]:
    """Align two ``{query_id: value}`` maps on the same query ids (sorted).

    Raises:
        ValueError: The two maps cover different queries (naming a few of the differences).
    """
    if set(a) != set(b):
        only = sorted(set(a) ^ set(b))[:5]
        raise ValueError(f"per-query scores cover different queries (e.g. {only}); evaluate both on the same qrels")
    ids = sorted(a)
    return [a[q] for q in ids], [b[q] for q in ids]


def paired_t_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided paired t-test p-value for mean(a - b) = 0.

    t = mean(d) / (sd(d) / sqrt(n)) with d = a - b and n - 1 degrees of freedom. Identical systems (every d = 0) give
    p = 1; a constant non-zero difference gives p = 0; a single query gives p = 1 (no variance to test against).
    """
    from scipy import stats

    d = _paired(a, b)
    if np.all(d == 0) or len(d) < 2:
        return 1.0
    if np.all(d == d[0]):
        return 0.0
    return float(stats.ttest_rel(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)).pvalue)


def permutation_test(
    a: Sequence[float], b: Sequence[float], *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> float:
    """Two-sided paired randomisation test p-value (Fisher; Smucker et al. 2007).

    Under the null each query's pair of scores is exchangeable, so the sign of d_i = a_i - b_i is flipped at random:
    p = (1 + #{resamples with |mean(s * d)| >= |mean(d)|}) / (1 + n_resamples). Fixed ``seed``: the same inputs give
    the same p. Identical systems give p = 1.
    """
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive int, got {n_resamples!r}")
    d = _paired(a, b)
    if np.all(d == 0):
        return 1.0
    observed = abs(d.mean())
    rng = np.random.default_rng(seed)
    count, done = 0, 0
    while done < n_resamples:
        size = min(1000, n_resamples - done)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(size, len(d)))
        count += int((np.abs((signs * d).mean(axis=1)) >= observed - 1e-12).sum())
        done += size
    return (1 + count) / (1 + n_resamples)
