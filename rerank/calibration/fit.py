"""Fitting a temperature (NLI) or Platt scaling (relevance) on raw logits and gold labels."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from rerank.head import Platt, Temperature, sigmoid
from rerank.labels import LabelMap

logger = logging.getLogger(__name__)

TEMPERATURE_BOUNDS = (1e-2, 1e2)


def logit_matrix(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] < 2:
        raise ValueError(f"logits must have shape (n, num_labels) with n >= 1 and 2 or 3 labels, got {z.shape}")
    if not np.isfinite(z).all():
        raise ValueError("logits hold NaN or infinite values")
    return z


def gold_indices(gold: Sequence[int] | np.ndarray, n: int, num_labels: int) -> np.ndarray:
    y = np.asarray(gold)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"gold must be {n} integer label positions, got shape {y.shape} of {y.dtype}")
    if ((y < 0) | (y >= num_labels)).any():
        raise ValueError(f"gold label positions must be in [0, {num_labels}), got {sorted(set(y.tolist()))[:5]}")
    return y.astype(np.int64)


def nli_gold_indices(labels: Sequence[str], label_map: LabelMap) -> np.ndarray:
    """Gold NLI label names as positions in the model's logits (a 2-label model: neutral and contradiction both
    go to its non-entailment position).

    Raises:
        ValueError: A name other than entailment, neutral or contradiction.
    """
    positions = {
        "entailment": label_map.entailment,
        "neutral": label_map.neutral,
        "contradiction": label_map.contradiction,
    }
    if label_map.num_labels == 2:
        positions["neutral"] = positions["contradiction"] = label_map.other
    unknown = sorted({label for label in labels if label not in positions})
    if unknown:
        raise ValueError(f"unknown NLI labels {unknown[:5]}; expected entailment, neutral or contradiction")
    return np.array([positions[label] for label in labels], dtype=np.int64)


def _temperature_nll(z: np.ndarray, y: np.ndarray, temperature: float) -> float:
    from scipy.special import logsumexp

    scaled = z / temperature
    return float(np.mean(logsumexp(scaled, axis=1) - scaled[np.arange(len(y)), y]))


def fit_temperature(logits: np.ndarray, gold: Sequence[int] | np.ndarray) -> Temperature:
    """The temperature T > 0 minimising the NLL of the gold labels under softmax(logits / T).

    NLL(T) = mean_i [logsumexp(z_i / T) - z_i[y_i] / T], searched over log T in [log 0.01, log 100] (bounded
    Brent; NLL is convex in 1/T, so it has one minimum). ``gold`` holds positions in the logits' own label order.

    Raises:
        ValueError: Malformed inputs, or a minimum at the edge of the search: every pair right and confidently so
            (T -> 0), or logits that say nothing about the labels, such as a wrong label order (T -> infinity).

    Example:
        >>> fit_temperature(np.array([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]]), [0, 1, 1]).temperature > 1
        True
    """
    from scipy.optimize import minimize_scalar

    z = logit_matrix(logits)
    y = gold_indices(gold, len(z), z.shape[1])
    low, high = (math.log(bound) for bound in TEMPERATURE_BOUNDS)

    def nll(log_t: float) -> float:
        return _temperature_nll(z, y, math.exp(log_t))

    result = minimize_scalar(nll, bounds=(low, high), method="bounded", options={"xatol": 1e-7})
    best = float(result.fun) + 1e-9  # within this, the NLL is flat out to a bound: no minimum inside the range
    if nll(low) <= best:
        raise ValueError(
            f"the NLL keeps falling as the temperature goes to 0 on these {len(y)} pairs: the model gets them all "
            "right, so they cannot show how over-confident it is; calibrate on more, or harder, pairs"
        )
    if nll(high) <= best:
        raise ValueError(
            f"the NLL keeps falling as the temperature grows on these {len(y)} pairs: the logits carry no "
            "information about the gold labels (a wrong label order? pass labels=[...] in logit order)"
        )
    return Temperature(math.exp(float(result.x)))


def relevance_logits(logits: np.ndarray) -> np.ndarray:
    x = np.asarray(logits, dtype=np.float64)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1 or not len(x):
        raise ValueError(f"relevance logits must have shape (n,) or (n, 1) with n >= 1, got {np.shape(logits)}")
    if not np.isfinite(x).all():
        raise ValueError("relevance logits hold NaN or infinite values")
    return x


def binary_labels(relevant: Sequence[bool] | np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(relevant)
    if y.shape != (n,) or y.dtype != np.bool_:
        raise ValueError(f"relevant must be {n} booleans, got shape {y.shape} of {y.dtype}")
    return y


def fit_platt(logits: np.ndarray, relevant: Sequence[bool] | np.ndarray) -> Platt:
    """Platt scaling: probability = sigmoid(slope x logit + intercept), fitted by logistic regression on the logit.

    Minimises mean_i [log(1 + exp(s_i)) - t_i s_i] with s_i = slope x_i + intercept and Platt's (1999) targets
    t = (N+ + 1) / (N+ + 2) for relevant pairs and 1 / (N- + 2) for the others (the smoothing keeps a separable set
    finite and is negligible for thousands of pairs); L-BFGS on standardised logits.

    Raises:
        ValueError: Malformed inputs, a single class, constant logits, or a fitted slope <= 0 (the model ranks
            non-relevant pairs above relevant ones on this data).

    Example:
        >>> platt = fit_platt(np.array([-3.0, -1.0, 0.0, 1.0, 3.0, 2.0]), np.array([0, 0, 1, 0, 1, 1], dtype=bool))
        >>> platt.slope > 0
        True
    """
    from scipy.optimize import minimize

    x = relevance_logits(logits)
    y = binary_labels(relevant, len(x))
    positives = int(y.sum())
    if positives in (0, len(y)):
        raise ValueError(f"Platt scaling needs relevant and non-relevant pairs; all {len(y)} are {bool(y[0])}")
    mean, spread = float(x.mean()), float(x.std())
    if spread == 0:
        raise ValueError(f"all {len(x)} relevance logits are equal ({mean}); they cannot be calibrated")
    u = (x - mean) / spread
    t = np.where(y, (positives + 1) / (positives + 2), 1 / (len(y) - positives + 2))

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        s = params[0] * u + params[1]
        error = sigmoid(s) - t
        return float(np.mean(np.logaddexp(0.0, s) - t * s)), np.array([np.mean(error * u), np.mean(error)])

    result = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    slope = float(result.x[0]) / spread
    intercept = float(result.x[1]) - float(result.x[0]) * mean / spread
    if slope <= 0:
        raise ValueError(
            f"the fitted Platt slope is {slope:.3g} <= 0: on these {len(y)} pairs the model scores non-relevant "
            "pairs above relevant ones, so its scores cannot be calibrated into probabilities"
        )
    return Platt(slope, intercept)
