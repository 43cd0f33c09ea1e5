"""The examples run as a user runs them (a subprocess, offline) with the mini NLI model of ../shared."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_factcheck_example_runs_offline(mini_nli_dir):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, str(EXAMPLES / "factcheck.py"), "--model", str(mini_nli_dir)],
                            capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("claim: ") == 4 and "evidence [sleep-memory (" in out
    assert "claim: Sleep helps memory.\n  SUPPORTS" in out
    assert "claim: Jupiter has 95 moons.\n  NOT_ENOUGH_INFO (confidence 1.00)" in out


def test_factcheck_example_names_a_missing_model(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    result = subprocess.run([sys.executable, str(EXAMPLES / "factcheck.py"), "--model", str(tmp_path / "absent")],
                            capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert result.returncode != 0 and "absent" in result.stderr
