"""Property tests of the document and pair readers: any file content gives records or a ValueError naming the file."""

from __future__ import annotations

import gzip
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rerank.corpus import ID_FIELDS, load_corpus
from rerank.nli_tsv import NLI_LABELS, read_nli_tsv
from rerank.records import Document

PROPERTY = settings(max_examples=100, deadline=None, derandomize=True, database=None)

utf8_text = st.text(st.characters(codec="utf-8"), max_size=30)
ids = utf8_text.filter(lambda value: value.strip() != "")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | utf8_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(utf8_text, inner, max_size=3),
    max_leaves=8,
)
# Lines that look like corpus records, so the reader's field checks are reached, not only its JSON parser.
fields = st.sampled_from([*ID_FIELDS, "text", "title", "sentences", "year"])
record_lines = st.one_of(
    st.dictionaries(fields, json_values | st.lists(utf8_text, max_size=3), max_size=5).map(json.dumps),
    json_values.map(json.dumps),
    utf8_text,
)


@contextmanager
def file_holding(name: str, data: bytes, compress: bool = False) -> Iterator[Path]:
    """A file ``name`` (in a fresh temporary folder) holding ``data``, gzip-compressed when ``compress``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
        yield path


def check_corpus(path: Path) -> None:
    try:
        documents = load_corpus(path)
    except ValueError as error:
        assert str(path) in str(error)
        return
    assert documents and all(isinstance(document, Document) for document in documents)
    assert len({document.id for document in documents}) == len(documents)


@PROPERTY
@given(data=st.binary(max_size=200), name=st.sampled_from(["corpus.jsonl", "corpus.jsonl.gz"]))
def test_corpus_of_arbitrary_bytes_gives_documents_or_a_value_error_naming_the_file(data, name):
    with file_holding(name, data) as path:
        check_corpus(path)


@PROPERTY
@given(text=st.text(st.characters(codec="utf-8"), max_size=200), compress=st.booleans())
def test_corpus_of_arbitrary_text_gives_documents_or_a_value_error_naming_the_file(text, compress):
    with file_holding("corpus.jsonl.gz" if compress else "corpus.jsonl", text.encode("utf-8"), compress) as path:
        check_corpus(path)


@PROPERTY
@given(lines=st.lists(record_lines, max_size=6), compress=st.booleans())
def test_corpus_of_record_like_lines_gives_documents_or_a_value_error_naming_the_file(lines, compress):
    data = "\n".join(lines).encode("utf-8")
    with file_holding("corpus.jsonl.gz" if compress else "corpus.jsonl", data, compress) as path:
        check_corpus(path)


@PROPERTY
@given(texts=st.lists(utf8_text, min_size=1, max_size=5), cut=st.integers(min_value=1))
def test_truncated_gzip_corpus_raises_a_value_error_naming_the_file(texts, cut):
    lines = "".join(json.dumps({"id": str(i), "text": text}) + "\n" for i, text in enumerate(texts))
    compressed = gzip.compress(lines.encode("utf-8"), mtime=0)
    with file_holding("corpus.jsonl.gz", compressed[: 1 + cut % (len(compressed) - 1)]) as path:
        with pytest.raises(ValueError, match="not a readable gzip file") as error:
            load_corpus(path)
        assert str(path) in str(error.value)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[" * 100_000, "nested too deeply"),  # json.loads raises RecursionError on deep nesting
        ('{"id": "a", "text": "b", "n": ' + "1" * 5000 + "}", "4300 digits"),  # int() digit limit: a bare ValueError
        ('{"id": "a", "text": "\\ud800"}', "unpaired surrogate"),  # a JSON escape can spell a lone surrogate
        ('{"id": "\\udfff", "text": "b"}', "unpaired surrogate"),
        ('{"id": "a", "text": "b", "title": "x\\ud83d"}', "unpaired surrogate"),
    ],
)
def test_corpus_lines_that_break_the_json_parser_or_unicode_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"id": "ok", "text": "fine"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message) as error:
        load_corpus(path)
    assert f"{path}:2:" in str(error.value)


def test_missing_corpus_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="corpus file not found") as error:
        load_corpus(tmp_path / "nope.jsonl")
    assert str(tmp_path / "nope.jsonl") in str(error.value)


documents = st.lists(
    st.builds(
        Document,
        id=ids,
        text=utf8_text,
        title=st.none() | utf8_text.filter(bool),  # the reader reads an empty title as no title
        metadata=st.dictionaries(
            utf8_text.filter(lambda key: key not in {*ID_FIELDS, "text", "title"}), json_values, max_size=3
        ),
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda document: document.id,
)


@PROPERTY
@given(documents=documents, id_field=st.sampled_from(ID_FIELDS), compress=st.booleans(), crlf=st.booleans())
def test_corpus_round_trip_is_exact(documents, id_field, compress, crlf):
    lines = []
    for document in documents:
        record = {id_field: document.id, "text": document.text, **document.metadata}
        if document.title is not None:
            record["title"] = document.title
        lines.append(json.dumps(record, ensure_ascii=bool(len(lines) % 2)))  # both escaped and raw unicode
    data = ("\r\n" if crlf else "\n").join(lines).encode("utf-8")
    with file_holding("corpus.jsonl.gz" if compress else "corpus.jsonl", data, compress) as path:
        assert load_corpus(path) == documents


def check_pairs(path: Path, labels: bool, limit: int | None) -> None:
    try:
        pairs = read_nli_tsv(path, labels=labels, limit=limit)
    except ValueError as error:
        assert str(path) in str(error)
        return
    assert len(pairs) == len(pairs.premises) == len(pairs.hypotheses) >= 1
    assert limit is None or len(pairs) <= limit
    assert all(premise.strip() for premise in pairs.premises) and all(h.strip() for h in pairs.hypotheses)
    assert (pairs.labels is None) if not labels else set(pairs.labels) <= set(NLI_LABELS)


tsv_cells = st.one_of(utf8_text, st.sampled_from(["premise", "hypothesis", "label", *NLI_LABELS, "not_entailment"]))
tsv_lines = st.lists(st.lists(tsv_cells, max_size=4).map("\t".join), max_size=6).map("\n".join)


@PROPERTY
@given(
    data=st.one_of(st.binary(max_size=200), tsv_lines.map(str.encode)),
    labels=st.booleans(),
    limit=st.none() | st.integers(1, 3),
    compress=st.booleans(),
)
def test_pairs_file_of_arbitrary_content_gives_pairs_or_a_value_error_naming_the_file(data, labels, limit, compress):
    with file_holding("pairs.tsv.gz" if compress else "pairs.tsv", data, compress) as path:
        check_pairs(path, labels, limit)


cells = st.text(st.characters(codec="utf-8", exclude_characters="\t\n\r"), max_size=20).filter(str.strip)


@PROPERTY
@given(rows=st.lists(st.tuples(cells, cells, st.sampled_from(NLI_LABELS)), min_size=1, max_size=6))
def test_pairs_round_trip_is_exact(rows):
    text = "premise\thypothesis\tlabel\n" + "".join(f"{p}\t{h}\t{label}\n" for p, h, label in rows)
    with file_holding("pairs.tsv", text.encode("utf-8")) as path:
        pairs = read_nli_tsv(path, labels=True)
    assert list(zip(pairs.premises, pairs.hypotheses, pairs.labels or [], strict=True)) == rows


def test_pairs_file_that_is_not_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_bytes(b"premise\thypothesis\nA\tB\n\xed\xa0\x80 surrogate\tC\n")  # CESU-8 spelling of a surrogate
    with pytest.raises(ValueError, match="not UTF-8") as error:
        read_nli_tsv(path)
    assert f"{path}:3:" in str(error.value)


def test_missing_pairs_file_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="pairs file not found") as error:
        read_nli_tsv(tmp_path / "nope.tsv")
    assert str(tmp_path / "nope.tsv") in str(error.value)


@PROPERTY
@given(value=json_values, field=st.sampled_from(ID_FIELDS))
def test_a_document_id_is_a_non_empty_string_or_number_and_nothing_else(value, field):
    line = json.dumps({field: value, "text": "body"})
    with file_holding("corpus.jsonl", line.encode("utf-8")) as path:
        try:
            (document,) = load_corpus(path)
        except ValueError as error:
            assert f"{path}:1:" in str(error)
            assert isinstance(value, (bool, dict, list, type(None))) or not str(value).strip()
            return
    assert isinstance(value, (str, int, float)) and not isinstance(value, bool)
    assert document.id == str(value)


@PROPERTY
@given(texts=st.lists(utf8_text, min_size=1, max_size=3), garbage=st.binary(min_size=1, max_size=30))
def test_gzip_corpus_with_trailing_garbage_gives_documents_or_a_value_error_naming_the_file(texts, garbage):
    lines = "".join(json.dumps({"id": str(i), "text": text}) + "\n" for i, text in enumerate(texts))
    with file_holding("corpus.jsonl.gz", gzip.compress(lines.encode("utf-8"), mtime=0) + garbage) as path:
        check_corpus(path)
