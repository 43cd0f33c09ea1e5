"""Property tests of eval's file readers and the TREC run writer: any content gives data or a ValueError naming the
file, and a written run reads back exactly."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eval.data import NLI_LABELS, load_nli_tsv, load_qrels, load_trec_run, write_trec_run

PROPERTY = settings(max_examples=100, deadline=None, derandomize=True, database=None)

utf8_text = st.text(st.characters(codec="utf-8"), max_size=30)
# Tokens as they appear in qrels and run files, mixed with arbitrary text, so the field checks are reached.
tokens = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Z", "Cc")), min_size=1, max_size=8),
    st.integers(-5, 5).map(str),
    st.floats().map(repr),
    st.sampled_from(["Q0", "0", "query-id", "corpus-id", "score", "nan", "inf", "-inf", "1e999", "1_0", "٣"]),
)
token_lines = st.lists(st.lists(tokens, max_size=7).map(" ".join) | utf8_text, max_size=6).map("\n".join)
contents = st.one_of(st.binary(max_size=200), utf8_text.map(str.encode), token_lines.map(str.encode))
# Ids a TREC run can hold: non-empty, no whitespace, valid Unicode.
run_ids = st.text(st.characters(codec="utf-8", exclude_categories=("Z",)), min_size=1, max_size=12).filter(
    lambda value: not any(c.isspace() for c in value)
)
scores = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**6), 10**6)
runs = st.dictionaries(run_ids, st.dictionaries(run_ids, scores, min_size=1, max_size=5), max_size=4)


@contextmanager
def file_holding(name: str, data: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        yield path


@PROPERTY
@given(data=contents, name=st.sampled_from(["qrels.tsv", "qrels.txt", "qrels.tsv.gz"]))
def test_qrels_of_arbitrary_content_give_integer_grades_or_a_value_error_naming_the_file(data, name):
    with file_holding(name, data) as path:
        try:
            qrels = load_qrels(path)
        except ValueError as error:
            assert str(path) in str(error)
            return
    for judged in qrels.values():
        assert all(isinstance(grade, int) and not isinstance(grade, bool) for grade in judged.values())
        assert all(doc_id and not any(c.isspace() for c in doc_id) for doc_id in judged)


@PROPERTY
@given(data=contents, name=st.sampled_from(["run.trec", "run.trec.gz"]))
def test_run_of_arbitrary_content_gives_finite_scores_or_a_value_error_naming_the_file(data, name):
    with file_holding(name, data) as path:
        try:
            run = load_trec_run(path)
        except ValueError as error:
            assert str(path) in str(error)
            return
    for ranked in run.values():
        assert all(isinstance(score, float) and math.isfinite(score) for score in ranked.values())


@pytest.mark.parametrize("score", ["nan", "inf", "-Infinity", "1e999"])
def test_run_with_a_non_finite_score_names_file_and_line(tmp_path, score):
    path = tmp_path / "run.trec"
    path.write_text(f"q1 Q0 d1 1 2.5 tag\nq1 Q0 d2 2 {score} tag\n", encoding="utf-8")
    with pytest.raises(ValueError, match="score must be a finite number") as error:
        load_trec_run(path)
    assert f"{path}:2:" in str(error.value)


@PROPERTY
@given(data=contents, limit=st.none() | st.integers(1, 3))
def test_nli_tsv_of_arbitrary_content_gives_labelled_pairs_or_a_value_error_naming_the_file(data, limit):
    with file_holding("nli.tsv", b"premise\thypothesis\tlabel\n" + data) as path:
        try:
            examples = load_nli_tsv(path, limit=limit)
        except ValueError as error:
            assert str(path) in str(error)
            return
    assert len(examples) == len(examples.premises) == len(examples.hypotheses) >= 1
    assert set(examples.labels) <= set(NLI_LABELS)


@pytest.mark.parametrize("reader", [load_qrels, load_trec_run, load_nli_tsv])
def test_missing_files_are_named(tmp_path, reader):
    with pytest.raises(FileNotFoundError, match="not found") as error:
        reader(tmp_path / "missing.txt")
    assert str(tmp_path / "missing.txt") in str(error.value)


@PROPERTY
@given(run=runs, tag=run_ids)
def test_trec_run_round_trip_is_exact(run, tag):
    with tempfile.TemporaryDirectory() as folder:
        path = write_trec_run(run, Path(folder) / "run.trec", tag=tag)
        loaded = load_trec_run(path)
        lines = path.read_text(encoding="utf-8").splitlines()
    assert loaded == {qid: {doc_id: float(score) for doc_id, score in ranked.items()} for qid, ranked in run.items()}
    assert all(type(score) is float for ranked in loaded.values() for score in ranked.values())
    for qid, ranked in run.items():  # ranks 1..n in descending score order
        mine = [line.split() for line in lines if line.split()[0] == qid]
        assert [int(fields[3]) for fields in mine] == list(range(1, len(ranked) + 1))
        assert [float(fields[4]) for fields in mine] == sorted(map(float, ranked.values()), reverse=True)


whitespace = st.sampled_from([chr(code) for code in range(0x3001) if chr(code).isspace()])  # all of them


@PROPERTY
@given(run=runs.filter(bool), space=whitespace, where=st.sampled_from(["query", "document", "tag"]), at=st.integers())
def test_write_trec_run_refuses_whitespace_in_ids_and_tag_and_writes_nothing(run, space, where, at):
    qid = next(iter(run))
    doc_id = next(iter(run[qid]))
    spaced = {"query": qid, "document": doc_id, "tag": "tag"}[where]
    spaced = spaced[: at % (len(spaced) + 1)] + space + spaced[at % (len(spaced) + 1) :]
    tag = spaced if where == "tag" else "tag"
    bad = dict(run)
    if where == "query":
        bad[spaced] = bad.pop(qid)
    elif where == "document":
        bad[qid] = {spaced if d == doc_id else d: s for d, s in run[qid].items()}
    with tempfile.TemporaryDirectory() as folder:
        with pytest.raises(ValueError, match="whitespace"):
            write_trec_run(bad, Path(folder) / "run.trec", tag=tag)
        assert not (Path(folder) / "run.trec").exists()


@pytest.mark.parametrize("where", ["query", "document", "tag"])
def test_write_trec_run_refuses_lone_surrogates_clearly(tmp_path, where):
    bad = "id\ud800x"
    run = {bad: {"d": 1.0}} if where == "query" else {"q": {bad if where == "document" else "d": 1.0}}
    with pytest.raises(ValueError, match="unpaired surrogate") as error:
        write_trec_run(run, tmp_path / "run.trec", tag=bad if where == "tag" else "tag")
    assert not isinstance(error.value, UnicodeError)
    assert not (tmp_path / "run.trec").exists()


def test_a_query_without_documents_has_no_line_in_a_trec_run(tmp_path):
    path = write_trec_run({"q1": {}, "q2": {"d": 1.0}}, tmp_path / "run.trec")
    assert load_trec_run(path) == {"q2": {"d": 1.0}}


@pytest.mark.parametrize("score", [math.nan, math.inf, 10**400, True, "1.0", None])
def test_write_trec_run_refuses_scores_that_are_not_finite_numbers(tmp_path, score):
    with pytest.raises(ValueError, match="score must be finite"):
        write_trec_run({"q": {"d": score}}, tmp_path / "run.trec")
    assert not (tmp_path / "run.trec").exists()
