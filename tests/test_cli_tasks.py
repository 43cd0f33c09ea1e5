"""``rerank classify`` and ``rerank answers`` on the mini NLI model: text and --json output."""

from __future__ import annotations

import json

import pytest

from rerank_cli.main import main

LABELS = ["sports", "politics", "cooking"]


def test_classify_json_matches_the_library(mini_nli_dir, capsys):
    from rerank.classify import classify

    texts = ["The striker scored twice.", "Parliament passed the budget."]
    argv = ["classify", "--model", str(mini_nli_dir), "--text", *texts, "--candidate-labels", *LABELS,
            "--backend", "torch", "--precision", "fp32", "--json", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    results = json.loads(capsys.readouterr().out)
    expected = classify(texts, LABELS, model=str(mini_nli_dir), backend="torch", precision="fp32")
    assert [r["text"] for r in results] == texts
    for result, reference in zip(results, expected, strict=True):
        assert result["labels"] == reference.labels and result["multi_label"] is False
        assert result["scores"] == pytest.approx(reference.scores, abs=1e-6)


def test_classify_text_output_from_a_file_multi_label(mini_nli_dir, tmp_path, capsys):
    path = tmp_path / "texts.txt"
    path.write_text("Whisk the eggs and bake the cake.\n\nThe match ended in a draw.\n", encoding="utf-8")
    argv = ["classify", "--model", str(mini_nli_dir), "--text-file", str(path), "--candidate-labels", *LABELS,
            "--multi-label", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("text: ") == 2 and "text: The match ended in a draw." in out
    assert all(out.count(f"  {label}\n") == 2 for label in LABELS)


def test_answers_json_and_text(mini_nli_dir, capsys):
    context = "Canberra has been the capital of Australia since 1913. Sydney is its largest city."
    base = ["answers", "--model", str(mini_nli_dir), "--question", "What is the capital of Australia?",
            "--answer", "Canberra", "Perth", "--context", context, "--no-progress"]  # fmt: skip
    assert main([*base, "--json"]) == 0
    ranked = json.loads(capsys.readouterr().out)
    assert [r["rank"] for r in ranked] == [1, 2] and {r["answer"] for r in ranked} == {"Canberra", "Perth"}
    for answer in ranked:
        assert answer["p_entailment"] + answer["p_neutral"] + answer["p_contradiction"] == pytest.approx(1.0)
        assert answer["evidence"]["document_id"] == "context"
    assert main(base) == 0
    out = capsys.readouterr().out
    assert out.startswith("question: What is the capital of Australia?\n  1. ") and "evidence [context, chars" in out


def test_answers_without_context(mini_nli_dir, tmp_path, capsys):
    path = tmp_path / "answers.txt"
    path.write_text("Canberra is the capital.\nBananas are yellow.\n", encoding="utf-8")
    argv = ["answers", "--model", str(mini_nli_dir), "--question", "What is the capital of Australia?",
            "--answer-file", str(path), "--json", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    ranked = json.loads(capsys.readouterr().out)
    assert {r["evidence"]["document_id"] for r in ranked} == {"0", "1"}
    assert {r["hypothesis"] for r in ranked} == {"This text answers the question 'What is the capital of Australia?'."}
