"""Ray Data: a local Ray on loopback scores a small dataset with actors; the numbers are NLIReranker.score's."""

from __future__ import annotations

import numpy as np
import pytest

from rerank import NLIReranker
from tests.integrations import conftest
from tests.integrations.conftest import ray_processes, socket_addresses

pytest.importorskip("ray.data", reason="the ray extra is not installed (pip install 'nli-rerank[ray]')")

PASSAGES = [
    "Aspirin lowers the risk of heart attack in men.",
    "Aspirin has no effect on heart attacks. It causes bleeding.",
    "The cat sat on the mat.",
    "Daily walking lowers blood pressure in older adults.",
    "Walking raises blood pressure.",
]
ROWS = [
    {"query": "Aspirin prevents heart attacks.", "text": text, "doc": f"a{i}"} for i, text in enumerate(PASSAGES[:3])
] + [{"query": "Walking lowers blood pressure.", "text": text, "doc": f"w{i}"} for i, text in enumerate(PASSAGES[2:])]
# fp32 on torch: at bf16 ("auto" on CPUs with bf16 units) a pair's probabilities move by ~1e-3 with the batch it is
# padded with, and the actors' batches are not the reference's.
EXACT = {"backend": "torch", "precision": "fp32", "show_progress": False}


def test_rerank_dataset_matches_single_process_scores(local_ray, mini_nli_dir):
    from rerank.integrations.ray import rerank_dataset

    ds = local_ray.data.from_items(ROWS, override_num_blocks=3)
    scored = rerank_dataset(ds, model=str(mini_nli_dir), settings=EXACT, batch_size=2, actors=2).take_all()

    pids = ray_processes()
    assert pids, "no Ray process found while Ray runs"
    addresses = socket_addresses(pids)
    assert addresses and all(a.startswith(("127.0.0.1:", "[::ffff:127.0.0.1]:")) for a in addresses), addresses

    reference = NLIReranker(str(mini_nli_dir), **EXACT)
    by_doc = {row["doc"]: row for row in scored}
    assert sorted(by_doc) == sorted(row["doc"] for row in ROWS)
    for query in {row["query"] for row in ROWS}:
        rows = [row for row in ROWS if row["query"] == query]
        expected = reference.score(query, [row["text"] for row in rows])
        got = np.array([[by_doc[row["doc"]][c] for c in ("entailment", "neutral", "contradiction")] for row in rows])
        np.testing.assert_allclose(got, expected, atol=1e-5)
        np.testing.assert_allclose([by_doc[row["doc"]]["score"] for row in rows], expected[:, 0], atol=1e-5)
    assert by_doc["a0"]["text"] == PASSAGES[0] and by_doc["a0"]["query"] == ROWS[0]["query"]


def test_scorer_runs_without_ray_and_checks_columns(mini_nli_dir):
    from rerank.integrations.ray import NLIBatchScorer

    scorer = NLIBatchScorer(str(mini_nli_dir), settings={"show_progress": False, "order": "decisiveness"})
    batch = {"query": np.array(["Walking lowers blood pressure."] * 2, dtype=object),
             "text": np.array(PASSAGES[3:], dtype=object)}  # fmt: skip
    out = scorer(batch)
    assert "score" not in batch  # the caller's batch is not changed
    np.testing.assert_allclose(out["score"], out["entailment"] + out["contradiction"], atol=1e-9)
    with pytest.raises(ValueError, match="already has column"):
        scorer(out)
    with pytest.raises(ValueError, match="no column 'text'"):
        scorer({"query": batch["query"]})
    with pytest.raises(TypeError, match="hub id or a directory"):
        NLIBatchScorer(NLIReranker(str(mini_nli_dir)))


def test_no_ray_process_after_shutdown():
    """Runs after the Ray test (whose fixture has torn Ray down): no process of it is left, and none had to be
    ended by the fixture."""
    assert not conftest.LEFT_BEHIND, f"Ray processes still alive 20 s after ray.shutdown(): {conftest.LEFT_BEHIND}"
    assert not ray_processes()
