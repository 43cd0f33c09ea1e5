"""Calibration: fit a temperature (NLI) or Platt scaling (relevance) on labelled pairs, choose thresholds, and keep
both in one JSON file that rerankers load with ``calibration=``.

Fitting works on raw logits in the model's own label order (``reranker.pair_logits``): gold NLI labels are mapped
through the reranker's ``label_map`` (a 2-label model's ``not_entailment`` column takes neutral and contradiction).
Thresholds are chosen on the *calibrated* probabilities, so they belong to the reranker loaded with the same file.
The file records the kind, the parameters, the model it was fitted for, the data, reliability before and after,
and the thresholds; docs/calibration.md describes every field. ``rerank`` never imports ``retrievers`` or ``eval``:
the pairs come from the caller (``rerank calibrate`` builds them from an NLI TSV or a BEIR split and a run).

Example:
    >>> logits = np.array([[4.0, -4.0], [-4.0, 4.0], [4.0, -4.0], [-3.0, 3.0]])
    >>> round(fit_temperature(logits, [0, 1, 1, 1]).temperature, 2)  # one of four confident answers is wrong
    7.49
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rerank.atomic import write_text_atomic
from rerank.head import NLIHead, Platt, Temperature, sigmoid, softmax
from rerank.labels import LabelMap
from rerank.nli_tsv import NLIPairs

__all__ = [
    "FORMAT",
    "THRESHOLD_RULES",
    "CalibrationFile",
    "DataRecord",
    "ModelRecord",
    "RelevancePairs",
    "Reliability",
    "ThresholdChoice",
    "ThresholdStats",
    "binary_reliability",
    "calibrate_nli",
    "calibrate_relevance",
    "classification_reliability",
    "fit_platt",
    "fit_temperature",
    "load_calibration",
    "nli_gold_indices",
    "resolve_calibration",
    "save_calibration",
    "select_threshold",
    "split_indices",
    "split_pairs",
    "threshold_stats",
]

logger = logging.getLogger(__name__)

FORMAT: Literal["nli-rerank-calibration"] = "nli-rerank-calibration"
VERSION = 1
ECE_BINS = 15
PROBABILITY_FLOOR = 1e-15  # NLL clips probabilities here: one confident mistake costs at most 34.5 nats
TEMPERATURE_BOUNDS = (1e-2, 1e2)
# Threshold name -> (what a pair must be to count as positive, how the threshold selects pairs). min_* keep pairs
# whose probability is >= the value; max_contradiction flags pairs whose contradiction is > the value (the
# reranker drops those), so its precision is that of calling a pair a contradiction.
THRESHOLD_RULES: dict[str, tuple[str, str]] = {
    "min_entailment": ("entailment", ">="),
    "max_contradiction": ("contradiction", ">"),
    "min_score": ("relevant", ">="),
}
KIND_THRESHOLDS = {"temperature": ("min_entailment", "max_contradiction"), "platt": ("min_score",)}
KIND_PARAMETERS = {"temperature": ("temperature",), "platt": ("slope", "intercept")}


# ---- fitting ---------------------------------------------------------------------------------------------------


def _logit_matrix(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] < 2:
        raise ValueError(f"logits must have shape (n, num_labels) with n >= 1 and 2 or 3 labels, got {z.shape}")
    if not np.isfinite(z).all():
        raise ValueError("logits hold NaN or infinite values")
    return z


def _gold_indices(gold: Sequence[int] | np.ndarray, n: int, num_labels: int) -> np.ndarray:
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

    z = _logit_matrix(logits)
    y = _gold_indices(gold, len(z), z.shape[1])
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


def _relevance_logits(logits: np.ndarray) -> np.ndarray:
    x = np.asarray(logits, dtype=np.float64)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1 or not len(x):
        raise ValueError(f"relevance logits must have shape (n,) or (n, 1) with n >= 1, got {np.shape(logits)}")
    if not np.isfinite(x).all():
        raise ValueError("relevance logits hold NaN or infinite values")
    return x


def _binary_labels(relevant: Sequence[bool] | np.ndarray, n: int) -> np.ndarray:
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

    x = _relevance_logits(logits)
    y = _binary_labels(relevant, len(x))
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


# ---- reliability -----------------------------------------------------------------------------------------------


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Reliability(_Record):
    """How well probabilities match outcomes on n pairs (lower is better except accuracy)."""

    n: int = Field(ge=1)
    nll: float = Field(ge=0, allow_inf_nan=False)
    ece: float = Field(ge=0, le=1, allow_inf_nan=False)
    brier: float = Field(ge=0, le=2, allow_inf_nan=False)
    accuracy: float = Field(ge=0, le=1)


def _ece(confidence: np.ndarray, outcome: np.ndarray, bins: int = ECE_BINS) -> float:
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            total += members.mean() * abs(outcome[members].mean() - confidence[members].mean())
    return float(total)


def classification_reliability(probabilities: np.ndarray, gold: Sequence[int] | np.ndarray) -> Reliability:
    """Reliability of class probabilities (n, K) against gold positions, in the model's own label order.

    NLL = mean_i -log max(p_i[y_i], 1e-15); ECE = sum_b (|B_b| / n) |accuracy(B_b) - mean confidence(B_b)| over 15
    equal-width bins of the argmax probability (bin b holds ((b-1)/15, b/15]); Brier = mean_i sum_c (p_ic -
    1[c = y_i])^2; accuracy of the argmax. For 3-label NLI these equal ``eval.nli_metrics`` (a test checks it).
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or not len(p):
        raise ValueError(f"probabilities must have shape (n, K) with n >= 1, got {p.shape}")
    y = _gold_indices(gold, len(p), p.shape[1])
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    return Reliability(
        n=len(y),
        nll=float(-np.log(np.maximum(p[np.arange(len(y)), y], PROBABILITY_FLOOR)).mean()),
        ece=_ece(p.max(axis=1), correct),
        brier=float(((p - np.eye(p.shape[1])[y]) ** 2).sum(axis=1).mean()),
        accuracy=float(correct.mean()),
    )


def binary_reliability(probabilities: np.ndarray, relevant: Sequence[bool] | np.ndarray) -> Reliability:
    """Reliability of relevance probabilities p (n,) against booleans y.

    NLL = mean_i -[y_i log p_i + (1 - y_i) log(1 - p_i)] (clipped at 1e-15); ECE = sum_b (|B_b| / n) |fraction
    relevant(B_b) - mean p(B_b)| over 15 equal-width bins of p itself; Brier = mean_i (p_i - y_i)^2; accuracy of
    p >= 0.5.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 1 or not len(p):
        raise ValueError(f"probabilities must have shape (n,) with n >= 1, got {p.shape}")
    y = _binary_labels(relevant, len(p))
    chosen = np.where(y, p, 1.0 - p)
    return Reliability(
        n=len(y),
        nll=float(-np.log(np.maximum(chosen, PROBABILITY_FLOOR)).mean()),
        ece=_ece(p, y.astype(np.float64)),
        brier=float(((p - y) ** 2).mean()),
        accuracy=float(((p >= 0.5) == y).mean()),
    )


# ---- thresholds ------------------------------------------------------------------------------------------------


class ThresholdStats(_Record):
    """What a threshold selects on one set of pairs: counts, precision, recall and F1 of the selection."""

    n: int = Field(ge=1)
    positives: int = Field(ge=0)
    selected: int = Field(ge=0)
    precision: float = Field(ge=0, le=1)
    recall: float = Field(ge=0, le=1)
    f1: float = Field(ge=0, le=1)


class ThresholdChoice(_Record):
    """A chosen threshold (a probability of the calibrated reranker), why it was chosen, and what it does."""

    value: float = Field(ge=0, le=1)
    criterion: Literal["best_f1", "target_precision"]
    target_precision: float | None = Field(None, ge=0, le=1)
    fit: ThresholdStats
    heldout: ThresholdStats | None = None

    @model_validator(mode="after")
    def _target_given(self) -> ThresholdChoice:
        if (self.criterion == "target_precision") != (self.target_precision is not None):
            raise ValueError("target_precision is set exactly when criterion is 'target_precision'")
        return self


def _selected(scores: np.ndarray, value: float, rule: str) -> np.ndarray:
    return scores > value if rule == ">" else scores >= value


def _scores_and_positives(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or not len(s) or not np.isfinite(s).all() or (s < 0).any() or (s > 1).any():
        raise ValueError(f"scores must be n >= 1 probabilities in [0, 1], got shape {s.shape}")
    return s, _binary_labels(positive, len(s))


def threshold_stats(scores: np.ndarray, positive: np.ndarray, value: float, rule: str = ">=") -> ThresholdStats:
    """Precision = TP / selected, recall = TP / positives and F1 of the pairs selected by ``scores rule value``
    (rule ">=" keeps, ">" flags); precision is 1 when nothing is selected."""
    s, y = _scores_and_positives(scores, positive)
    chosen = _selected(s, value, rule)
    tp, selected, positives = int((chosen & y).sum()), int(chosen.sum()), int(y.sum())
    precision = tp / selected if selected else 1.0
    recall = tp / positives if positives else 0.0
    f1 = 2 * tp / (selected + positives) if selected + positives else 0.0
    return ThresholdStats(n=len(s), positives=positives, selected=selected, precision=precision, recall=recall, f1=f1)


def select_threshold(
    scores: np.ndarray, positive: np.ndarray, *, rule: str = ">=", target_precision: float | None = None
) -> ThresholdChoice:
    """The threshold with the best F1, or the one with the highest recall whose precision reaches the target.

    Candidates lie midway between consecutive distinct scores (and at half the lowest), so each selects exactly
    the pairs scoring at least some observed value, under either rule, without sitting on a data point.

    Raises:
        ValueError: No positive pair, or no threshold reaching ``target_precision`` (naming the best precision).

    Example:
        >>> choice = select_threshold(np.array([0.9, 0.8, 0.3, 0.2, 0.1]), np.array([True, True, False, False, True]))
        >>> round(choice.value, 2), choice.fit.f1
        (0.55, 0.8)
    """
    s, y = _scores_and_positives(scores, positive)
    if rule not in (">=", ">"):
        raise ValueError(f"rule must be '>=' or '>', got {rule!r}")
    if target_precision is not None and not 0 < target_precision <= 1:
        raise ValueError(f"target_precision must be in (0, 1], got {target_precision!r}")
    if not y.any():
        raise ValueError(f"none of the {len(y)} pairs is positive: no threshold can be chosen")
    order = np.argsort(-s, kind="stable")
    distinct, first = np.unique(-s[order], return_index=True)  # descending scores, where each value starts
    ends = np.append(first[1:], len(s))  # selecting every pair scoring >= distinct value j selects order[:ends[j]]
    tp = np.cumsum(y[order])[ends - 1]
    precision = tp / ends
    values = -distinct
    candidates = (values + np.append(values[1:], 0.0)) / 2
    if target_precision is None:
        f1 = 2 * tp / (ends + y.sum())
        j = int(np.argmax(f1))
    else:
        reaching = np.flatnonzero(precision >= target_precision - 1e-12)
        if not len(reaching):
            best = int(np.argmax(precision))
            raise ValueError(
                f"no threshold reaches precision {target_precision} on these {len(s)} pairs (the best is "
                f"{precision[best]:.3f}, selecting {ends[best]}); choose a lower target precision"
            )
        j = int(reaching.max())  # the most pairs, hence the highest recall, at the target precision
    value = float(candidates[j])
    return ThresholdChoice(
        value=value, criterion="best_f1" if target_precision is None else "target_precision",
        target_precision=target_precision, fit=threshold_stats(s, y, value, rule),
    )  # fmt: skip


# ---- the calibration file --------------------------------------------------------------------------------------


class ModelRecord(_Record):
    """The model a calibration was fitted for; ``fingerprint`` is ``LoadedModel.fingerprint`` (the weights)."""

    source: str
    fingerprint: str
    backend: str
    precision: str
    max_length: int = Field(ge=1)
    labels: list[str] | None = None  # label names in logit order (NLI models)


class DataRecord(_Record):
    """The labelled pairs a calibration was fitted on (``fit_pairs``) and checked on (``heldout_pairs``)."""

    kind: Literal["nli_pairs", "relevance_pairs"]
    sources: list[str] = Field(min_length=1)
    fit_pairs: int = Field(ge=1)
    heldout_pairs: int = Field(0, ge=0)
    seed: int | None = None
    notes: str = ""


class CalibrationFile(_Record):
    """One calibration, as saved by ``save_calibration`` and read by ``load_calibration`` (docs/calibration.md).

    Attributes:
        kind: "temperature" (NLI models) or "platt" (relevance models).
        parameters: {"temperature": T} or {"slope": a, "intercept": b}.
        model: What it was fitted for; loading it with another model logs a warning.
        data: What it was fitted on.
        metrics: {"fit": {"before": Reliability, "after": Reliability}, "heldout": {...}} ("heldout" only when
            some pairs were held out).
        thresholds: Name (min_entailment, max_contradiction, min_score) -> ThresholdChoice, chosen on the
            calibrated probabilities of the "fit" pairs.
    """

    format: Literal["nli-rerank-calibration"] = FORMAT
    version: int = VERSION
    kind: Literal["temperature", "platt"]
    parameters: dict[str, float]
    model: ModelRecord
    data: DataRecord
    metrics: dict[Literal["fit", "heldout"], dict[Literal["before", "after"], Reliability]]
    thresholds: dict[str, ThresholdChoice] = Field(default_factory=dict)
    created: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != VERSION:
            raise ValueError(f"version {value} is not one this nli-rerank reads (it reads version {VERSION})")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CalibrationFile:
        expected = KIND_PARAMETERS[self.kind]
        if sorted(self.parameters) != sorted(expected):
            raise ValueError(
                f"parameters of a {self.kind} calibration are {list(expected)}, got {sorted(self.parameters)}"
            )
        self.calibration  # noqa: B018 - builds the object, raising on a temperature <= 0 or a slope <= 0
        wrong = sorted(set(self.thresholds) - set(KIND_THRESHOLDS[self.kind]))
        if wrong:
            raise ValueError(f"thresholds {wrong} do not apply to a {self.kind} calibration "
                             f"(it takes {list(KIND_THRESHOLDS[self.kind])})")  # fmt: skip
        if "fit" not in self.metrics:
            raise ValueError("metrics must hold the 'fit' set")
        return self

    @property
    def calibration(self) -> Temperature | Platt:
        """The head calibration object the parameters describe."""
        if self.kind == "temperature":
            return Temperature(self.parameters["temperature"])
        return Platt(self.parameters["slope"], self.parameters["intercept"])

    def threshold_values(self) -> dict[str, float]:
        """The chosen thresholds as keyword arguments of ``reranker.rerank``, e.g. {"min_entailment": 0.71}."""
        return {name: choice.value for name, choice in sorted(self.thresholds.items())}


def save_calibration(record: CalibrationFile, path: str | Path) -> Path:
    """Write ``record`` as indented JSON, atomically (a killed write leaves the old file); returns the path."""
    if not isinstance(record, CalibrationFile):
        raise TypeError(f"record must be a CalibrationFile, got {type(record).__name__}")
    return write_text_atomic(path, record.model_dump_json(indent=2) + "\n")


def _one_line(path: str | Path, error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "file"
        parts.append(f"{field}: {item['msg'].removeprefix('Value error, ')}")
    return f"{path}: invalid calibration file: " + "; ".join(parts)


def load_calibration(path: str | Path) -> CalibrationFile:
    """Read and validate a calibration file written by ``save_calibration`` (or ``rerank calibrate``).

    Raises:
        FileNotFoundError: No such file.
        ValueError: Not UTF-8 JSON, not a calibration file, or a field that is missing or invalid: one line naming
            the file and the field.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"calibration file not found: {path} (write one with `rerank calibrate`)")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a calibration file: it is not UTF-8 text") from None
    except (json.JSONDecodeError, RecursionError) as error:
        where = (
            f" ({error.msg} at line {error.lineno} column {error.colno})"
            if isinstance(error, json.JSONDecodeError)
            else ""
        )
        raise ValueError(f"{path}: not a calibration file: invalid JSON{where}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"{path}: not a calibration file (format is {found!r}, expected {FORMAT!r})")
    try:
        return CalibrationFile.model_validate(payload)
    except ValidationError as error:
        raise ValueError(_one_line(path, error)) from None


CalibrationT = TypeVar("CalibrationT", Temperature, Platt)
CalibrationInput = str | Path | CalibrationFile | Temperature | Platt | None


def resolve_calibration(
    value: CalibrationInput, expected: type[CalibrationT], model: Any, owner: str
) -> tuple[CalibrationT | None, CalibrationFile | None]:
    """What a reranker's ``calibration=`` argument means: (head calibration, the file record when there is one).

    ``value`` is None, a path to a calibration file, a CalibrationFile, or a Temperature/Platt object. A file fitted
    for other weights (``model.fingerprint``) is used with a logged warning.

    Raises:
        ValueError: The file or object is of the other kind (Platt for an NLI model, temperature for relevance).
        TypeError: Any other value.
    """
    if value is None:
        return None, None
    where = "calibration"
    if isinstance(value, (str, Path)):
        where = f"calibration file {value}"
        value = load_calibration(value)
    if isinstance(value, CalibrationFile):
        record, value = value, value.calibration
        if isinstance(value, expected):
            if record.model.fingerprint != model.fingerprint:
                logger.warning(
                    "%s was fitted for model %s (fingerprint %s), not for %s (fingerprint %s); its %s may not suit "
                    "these weights", where, record.model.source, record.model.fingerprint, model.source,
                    model.fingerprint, record.kind,
                )  # fmt: skip
            return value, record
    elif isinstance(value, expected):
        return value, None
    if isinstance(value, (Temperature, Platt)):
        wanted = "a Temperature (NLI models)" if expected is Temperature else "Platt scaling (relevance models)"
        raise ValueError(f"{where} holds {type(value).__name__} scaling, but {owner} takes {wanted}; fit one for "
                         "this model with `rerank calibrate`")  # fmt: skip
    raise TypeError(f"calibration must be a file path, a CalibrationFile or a {expected.__name__}, got {value!r}")


# ---- fitting from pairs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RelevancePairs:
    """Parallel (query, passage, relevant) lists for Platt scaling."""

    queries: list[str]
    passages: list[str]
    relevant: list[bool]
    name: str = ""

    def __len__(self) -> int:
        return len(self.queries)


PairsT = TypeVar("PairsT", NLIPairs, RelevancePairs)


def split_indices(n: int, heldout_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded split of range(n): (fit positions, held-out positions), each sorted; round(n x fraction) held out."""
    if not 0 <= heldout_fraction < 1:
        raise ValueError(f"heldout_fraction must be in [0, 1), got {heldout_fraction!r}")
    held = round(n * heldout_fraction)
    if held >= n:
        raise ValueError(f"holding out {heldout_fraction} of {n} pairs leaves none to fit on")
    permutation = np.random.default_rng(seed).permutation(n)
    return np.sort(permutation[held:]), np.sort(permutation[:held])


def split_pairs(pairs: PairsT, heldout_fraction: float, seed: int = 0) -> tuple[PairsT, PairsT | None]:
    """``pairs`` split by ``split_indices``: (fit pairs, held-out pairs or None when nothing is held out)."""
    fit, held = split_indices(len(pairs), heldout_fraction, seed)

    def subset(positions: np.ndarray) -> PairsT:
        names = [name for name in _LIST_FIELDS[type(pairs)] if getattr(pairs, name) is not None]
        lists: dict[str, Any] = {name: [getattr(pairs, name)[i] for i in positions] for name in names}
        return replace(pairs, **lists)

    return subset(fit), (subset(held) if len(held) else None)


_LIST_FIELDS: dict[type, tuple[str, ...]] = {
    NLIPairs: ("premises", "hypotheses", "labels"),
    RelevancePairs: ("queries", "passages", "relevant"),
}


def _label_names(label_map: LabelMap) -> list[str]:
    names = ["not_entailment"] * label_map.num_labels
    names[label_map.entailment] = "entailment"
    if label_map.neutral is not None and label_map.contradiction is not None:
        names[label_map.neutral], names[label_map.contradiction] = "neutral", "contradiction"
    return names


def _thresholds(
    choose: dict[str, tuple[np.ndarray, np.ndarray]],
    check: dict[str, tuple[np.ndarray, np.ndarray]],
    target_precision: float | None,
) -> dict[str, ThresholdChoice]:
    """Choose each threshold on (scores, positives) of the fit pairs, and measure it on the held-out ones."""
    chosen = {}
    for name, (scores, positive) in choose.items():
        rule = THRESHOLD_RULES[name][1]
        try:
            choice = select_threshold(scores, positive, rule=rule, target_precision=target_precision)
        except ValueError as error:
            logger.warning("no %s threshold: %s", name, error)
            continue
        if name in check:
            choice = choice.model_copy(update={"heldout": threshold_stats(*check[name], choice.value, rule)})
        chosen[name] = choice
    return chosen


def _record(
    reranker: Any,
    kind: str,
    parameters: dict[str, float],
    labels: list[str] | None,
    data: DataRecord,
    metrics: dict[str, dict[str, Reliability]],
    thresholds: dict[str, ThresholdChoice],
) -> CalibrationFile:
    model = reranker.model
    return CalibrationFile.model_validate({
        "kind": kind, "parameters": parameters, "data": data, "metrics": metrics, "thresholds": thresholds,
        "model": ModelRecord(source=model.source, fingerprint=model.fingerprint, backend=model.runner.backend,
                             precision=model.runner.precision, max_length=reranker.options.max_length, labels=labels),
    })  # fmt: skip


def calibrate_nli(
    reranker: Any,
    pairs: NLIPairs,
    *,
    heldout: NLIPairs | None = None,
    target_precision: float | None = None,
    sources: Sequence[str] | None = None,
    seed: int | None = None,
    notes: str = "",
) -> CalibrationFile:
    """Fit an NLIReranker's temperature on labelled pairs; choose min_entailment (and, for 3-label models,
    max_contradiction) for best F1 or ``target_precision`` on the calibrated probabilities of the same pairs.

    Args:
        reranker: An NLIReranker (its ``pair_logits`` and ``label_map`` are used; its own calibration is not).
        pairs: Labelled (premise, hypothesis) pairs, e.g. ``read_nli_tsv(path, labels=True)``.
        heldout: Labelled pairs kept out of the fit, on which metrics and thresholds are measured too.
        sources, seed, notes: What the data record says about where the pairs came from.

    Example:
        >>> pairs = read_nli_tsv("snli_test.tsv", labels=True)  # doctest: +SKIP
        >>> fit, held = split_pairs(pairs, 0.5, seed=0)  # doctest: +SKIP
        >>> save_calibration(calibrate_nli(NLIReranker(model), fit, heldout=held), "calibration.json")  # doctest: +SKIP
    """
    sets = {"fit": pairs} | ({"heldout": heldout} if heldout is not None else {})
    logits, gold, labels = {}, {}, {}
    for name, part in sets.items():
        if part.labels is None:
            raise ValueError(f"the {name} pairs have no gold labels; read them with read_nli_tsv(path, labels=True)")
        labels[name] = np.array(part.labels)
        gold[name] = nli_gold_indices(part.labels, reranker.label_map)
        logits[name] = np.asarray(reranker.pair_logits(part.premises, part.hypotheses), dtype=np.float64)
    temperature = fit_temperature(logits["fit"], gold["fit"])
    metrics = {name: {"before": classification_reliability(softmax(logits[name]), gold[name]),
                      "after": classification_reliability(softmax(logits[name] / temperature.temperature), gold[name])}
               for name in sets}  # fmt: skip
    columns = {"min_entailment": (0, "entailment"), "max_contradiction": (2, "contradiction")}
    head = NLIHead(reranker.label_map, temperature)
    scored = {name: {threshold: (head(logits[name])[:, column], labels[name] == label)
                     for threshold, (column, label) in columns.items() if threshold in reranker.thresholds}
              for name in sets}  # fmt: skip
    data = DataRecord(kind="nli_pairs", sources=list(sources or [pairs.name or "pairs"]), fit_pairs=len(pairs),
                      heldout_pairs=len(heldout or ()), seed=seed, notes=notes)  # fmt: skip
    thresholds = _thresholds(scored["fit"], scored.get("heldout", {}), target_precision)
    return _record(reranker, "temperature", {"temperature": temperature.temperature},
                   _label_names(reranker.label_map), data, metrics, thresholds)  # fmt: skip


def calibrate_relevance(
    reranker: Any,
    pairs: RelevancePairs,
    *,
    heldout: RelevancePairs | None = None,
    target_precision: float | None = None,
    sources: Sequence[str] | None = None,
    seed: int | None = None,
    notes: str = "",
) -> CalibrationFile:
    """Fit Platt scaling for a RelevanceReranker on (query, passage, relevant) pairs and choose min_score for best
    F1 or ``target_precision`` on the calibrated probabilities (arguments as in ``calibrate_nli``)."""
    sets = {"fit": pairs} | ({"heldout": heldout} if heldout is not None else {})
    logits = {name: _relevance_logits(reranker.pair_logits(part.queries, part.passages)) for name, part in sets.items()}
    relevant = {name: np.array(part.relevant, dtype=bool) for name, part in sets.items()}
    platt = fit_platt(logits["fit"], relevant["fit"])
    calibrated = {name: sigmoid(platt.slope * logits[name] + platt.intercept) for name in sets}
    metrics = {name: {"before": binary_reliability(sigmoid(logits[name]), relevant[name]),
                      "after": binary_reliability(calibrated[name], relevant[name])} for name in sets}  # fmt: skip
    scored = {name: {"min_score": (calibrated[name], relevant[name])} for name in sets}
    data = DataRecord(kind="relevance_pairs", sources=list(sources or [pairs.name or "pairs"]), fit_pairs=len(pairs),
                      heldout_pairs=len(heldout or ()), seed=seed, notes=notes)  # fmt: skip
    thresholds = _thresholds(scored["fit"], scored.get("heldout", {}), target_precision)
    return _record(reranker, "platt", {"slope": platt.slope, "intercept": platt.intercept}, None, data, metrics,
                   thresholds)  # fmt: skip
