"""Filtering metrics of kept sets."""

from __future__ import annotations

import pytest

from eval import evaluate_filter


def test_filter_metrics_by_hand():
    qrels = {"q1": {"d1": 1, "d2": 1, "d0": 0}, "q2": {"d3": 1}, "q3": {"d4": 1}}
    kept = {"q1": {"d1", "d0"}, "q2": {"d3"}}  # q3 missing: nothing kept
    report = evaluate_filter(qrels, kept)
    assert report.per_query["precision"] == {"q1": 0.5, "q2": 1.0, "q3": 0.0}
    assert report.per_query["recall"] == {"q1": 0.5, "q2": 1.0, "q3": 0.0}
    assert report.f1 == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert report.empty_fraction == pytest.approx(1 / 3)


def test_everything_filtered_out_and_empty_qrels():
    report = evaluate_filter({"q": {"d": 1}}, {"q": set()})
    assert (report.precision, report.recall, report.f1, report.empty_fraction) == (0.0, 0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="qrels are empty"):
        evaluate_filter({}, {})
