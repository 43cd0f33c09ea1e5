"""Calibrating a reranker from labelled pairs: split, fit, measure before and after, choose thresholds, record."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np

from rerank.calibration.file import CalibrationFile, DataRecord, ModelRecord
from rerank.calibration.fit import (
    fit_platt,
    fit_temperature,
    nli_gold_indices,
    relevance_logits,
)
from rerank.calibration.reliability import Reliability, binary_reliability, classification_reliability
from rerank.calibration.thresholds import THRESHOLD_RULES, ThresholdChoice, select_threshold, threshold_stats
from rerank.head import NLIHead, sigmoid, softmax
from rerank.labels import LabelMap
from rerank.nli_tsv import NLIPairs

logger = logging.getLogger(__name__)


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
    logits = {name: relevance_logits(reranker.pair_logits(part.queries, part.passages)) for name, part in sets.items()}
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
