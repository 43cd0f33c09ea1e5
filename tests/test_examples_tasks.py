"""The task examples (RAG filtering, zero-shot classification, answer ranking) run as a user runs them: a
subprocess, offline, with the mini NLI model of ../shared."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(name: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True, env=env,
                          timeout=300)  # fmt: skip


def test_rag_filtering_example_drops_contradicting_passages(mini_nli_dir):
    result = _run("rag_filtering.py", "--model", str(mini_nli_dir))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("statement: Vitamin D supplements reduce hip fractures.\n")
    assert "  keep vitd-fracture" in out and "  DROP " in out
    assert "context for the generator (2 of 5 passages):\n  [vitd-fracture]" in out


def test_classify_example(mini_nli_dir):
    result = _run("classify.py", "--model", str(mini_nli_dir))
    assert result.returncode == 0, result.stderr
    for label in ("sports", "politics", "cooking", "technology"):
        assert f"\n  -> {label}   (" in result.stdout
    multi = _run("classify.py", "--model", str(mini_nli_dir), "--multi-label", "Ça va bien.")
    assert multi.returncode == 0 and "multi-label" in multi.stdout and "Ça va bien." in multi.stdout


def test_answer_ranking_example(mini_nli_dir):
    result = _run("answer_ranking.py", "--model", str(mini_nli_dir))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("question: ") == 3 and out.count("<- right answer") == 3
    assert "  1. Mercury" in out and "contradiction" in out


def test_the_examples_name_a_missing_model(tmp_path):
    env_home = str(tmp_path / "hf")
    for name in ("rag_filtering.py", "classify.py", "answer_ranking.py"):
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": env_home}
        result = subprocess.run([sys.executable, str(EXAMPLES / name), "--model", str(tmp_path / "absent")],
                                capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
        assert result.returncode != 0 and "absent" in result.stderr, name
