"""``rerank eval-nli`` over one file per language: a language column read from the file names and a mean row."""

from __future__ import annotations

import json

import pytest

from rerank_cli.main import main

PAIRS = {
    "en": [("A man is playing a guitar on stage.", "A man is playing an instrument.", "entailment"),
           ("A man is playing a guitar on stage.", "Nobody is playing music.", "contradiction")],
    "fr": [("Un homme joue de la guitare sur scène.", "Un homme joue d'un instrument.", "entailment"),
           ("Un homme joue de la guitare sur scène.", "Personne ne joue de musique.", "contradiction"),
           ("Un homme joue de la guitare sur scène.", "L'homme est célèbre.", "neutral")],
}  # fmt: skip


def write_pairs(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("premise\thypothesis\tlabel\n" + "".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def rows_of(output: str) -> dict[str, list[str]]:
    """Table rows by their set cell (the second)."""
    rows = [line.strip("|").split("|") for line in output.splitlines() if line.startswith("| ")]
    return {cells[1].strip(): [cell.strip() for cell in cells] for cells in rows[1:]}


def test_one_table_with_languages_and_a_mean_row(mini_nli_dir, tmp_path, capsys):
    files = [write_pairs(tmp_path / "xnli" / f"{language}.tsv", rows) for language, rows in PAIRS.items()]
    files.append(write_pairs(tmp_path / "snli_sample.tsv", PAIRS["en"]))
    out = tmp_path / "report.json"
    code = main(["eval-nli", "--data", *files, "--model", str(mini_nli_dir), "--out", str(out), "--no-progress"])
    assert code == 0
    output = capsys.readouterr().out
    assert output.splitlines()[0] == "| language | set | n | accuracy | macro-F1 | ECE (15 bins) | Brier |"
    rows = rows_of(output)
    assert [rows[name][:3] for name in ("en", "fr", "snli_sample")] == [["en", "en", "2"], ["fr", "fr", "3"],
                                                                        ["-", "snli_sample", "2"]]  # fmt: skip
    assert rows["3 sets"][:3] == ["mean", "3 sets", "7"]
    saved = json.loads(out.read_text())
    reports = saved["reports"]
    assert [reports[name]["language"] for name in ("en", "fr", "snli_sample")] == ["en", "fr", None]
    for metric, column in (("accuracy", 3), ("macro_f1", 4), ("ece", 5), ("brier", 6)):
        mean = sum(report[metric] for report in reports.values()) / 3  # each set counts once
        assert saved["mean"][metric] == pytest.approx(mean)
        assert rows["3 sets"][column] == f"{mean:.4f}"
    assert saved["mean"]["n"] == 7 and saved["mean"]["sets"] == 3
    assert reports["en"]["accuracy"] == reports["snli_sample"]["accuracy"]  # the same pairs score the same


def test_files_sharing_a_name_keep_a_row_each(mini_nli_dir, tmp_path, capsys):
    first = write_pairs(tmp_path / "dev" / "en.tsv", PAIRS["en"])
    second = write_pairs(tmp_path / "test" / "en.tsv", PAIRS["en"][:1])
    out = tmp_path / "report.json"
    assert main(["eval-nli", "--data", first, second, "--model", str(mini_nli_dir), "--out", str(out),
                 "--no-progress"]) == 0  # fmt: skip
    rows = rows_of(capsys.readouterr().out)
    assert rows["dev/en"][:3] == ["en", "dev/en", "2"] and rows["test/en"][:3] == ["en", "test/en", "1"]
    assert sorted(json.loads(out.read_text())["reports"]) == ["dev/en", "test/en"]


def test_a_single_file_has_no_mean_row(mini_nli_dir, tmp_path, capsys):
    path = write_pairs(tmp_path / "de.tsv", PAIRS["en"])
    assert main(["eval-nli", "--data", path, "--model", str(mini_nli_dir), "--no-progress"]) == 0
    output = capsys.readouterr().out
    assert "| de | de | 2 |" in output and "mean" not in output
