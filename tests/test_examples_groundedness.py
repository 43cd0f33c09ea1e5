"""examples/rag_groundedness.py runs as a user runs it (a subprocess, offline) with the mini NLI model of ../shared."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "rag_groundedness.py"


def run(*argv: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(EXAMPLE), *argv], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **env}, timeout=300)  # fmt: skip


def test_rag_example_flags_the_invented_statement(mini_nli_dir):
    result = run("--model", str(mini_nli_dir), "--backend", "torch")  # torch: no export into the test cache
    assert result.returncode == 0, result.stderr
    out = result.stdout
    flagged = [line for line in out.splitlines() if line.startswith("flagged ")]
    assert flagged == ["flagged [96:145]: The mayor gave a speech before the music started."]
    assert out.count("  SUPPORTED ") == 3 and "fully supported: False" in out
    assert "best passage weather  The weather was warm." in out


def test_rag_example_names_a_missing_model(tmp_path):
    result = run("--model", str(tmp_path / "absent"), HF_HOME=str(tmp_path / "hf"))
    assert result.returncode != 0 and "absent" in result.stderr
