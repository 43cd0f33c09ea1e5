"""`rerank serve` refuses bad settings in one line (exit 2) before it loads a model or binds a port."""

from __future__ import annotations

import pytest

from rerank_cli.main import main


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--index", "/nonexistent-index"], {}, "/nonexistent-index: No such index directory"),
        ([], {"RERANK_PORT": "abc"}, "RERANK_PORT='abc'"),
        (["--max-documents", "0"], {}, "--max-documents=0"),
        (["--min-score", "0.5"], {}, "min_score does not apply"),
        (["--min-entailment", "2"], {}, "min_entailment must be a probability"),
    ],
)
def test_bad_settings_exit_2_with_one_line(mini_nli_dir, monkeypatch, capsys, args, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["serve", "--model", str(mini_nli_dir), *args]) == 2
    error = capsys.readouterr().err
    assert error.startswith("rerank serve: error:") and message in error and error.count("\n") == 1
