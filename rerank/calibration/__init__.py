"""Calibration: fit a temperature (NLI) or Platt scaling (relevance) on labelled pairs, choose thresholds, and keep
both in one JSON file that rerankers load with ``calibration=``.

Fitting works on raw logits in the model's own label order (``reranker.pair_logits``): gold NLI labels are mapped
through the reranker's ``label_map`` (a 2-label model's ``not_entailment`` column takes neutral and contradiction).
Thresholds are chosen on the *calibrated* probabilities, so they belong to the reranker loaded with the same file.
The file records the kind, the parameters, the model it was fitted for, the data, reliability before and after,
and the thresholds; docs/calibration.md describes every field. ``rerank`` never imports ``retrievers`` or ``eval``:
the pairs come from the caller (``rerank calibrate`` builds them from an NLI TSV or a BEIR split and a run).

Modules: ``fit`` (temperature, Platt), ``reliability`` (NLL, ECE, Brier: the one implementation, eval reports
through it), ``thresholds`` (best F1 or target precision), ``file`` (the JSON file, saved atomically, validated on
load), ``calibrate`` (split, fit, measure, choose, record).

Example:
    >>> logits = np.array([[4.0, -4.0], [-4.0, 4.0], [4.0, -4.0], [-3.0, 3.0]])
    >>> round(fit_temperature(logits, [0, 1, 1, 1]).temperature, 2)  # one of four confident answers is wrong
    7.49
"""

from __future__ import annotations

from rerank.calibration.calibrate import RelevancePairs, calibrate_nli, calibrate_relevance, split_indices, split_pairs
from rerank.calibration.file import (
    FORMAT,
    CalibrationFile,
    CalibrationInput,
    DataRecord,
    ModelRecord,
    load_calibration,
    resolve_calibration,
    save_calibration,
)
from rerank.calibration.fit import fit_platt, fit_temperature, nli_gold_indices
from rerank.calibration.reliability import Reliability, binary_reliability, classification_reliability
from rerank.calibration.thresholds import (
    THRESHOLD_RULES,
    ThresholdChoice,
    ThresholdStats,
    select_threshold,
    threshold_stats,
)

__all__ = [
    "FORMAT",
    "THRESHOLD_RULES",
    "CalibrationFile",
    "CalibrationInput",
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
