from __future__ import annotations

import gzip
import json

import pytest

from rerank.corpus import load_corpus


def write_jsonl(path, records):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as handle:
        for record in records:
            handle.write((record if isinstance(record, str) else json.dumps(record, ensure_ascii=False)) + "\n")
    return path


@pytest.mark.parametrize("name", ["corpus.jsonl", "corpus.jsonl.gz"])
def test_reads_id_variants_title_and_metadata(tmp_path, name):
    path = write_jsonl(
        tmp_path / name,
        [
            {"_id": "a", "title": "T", "text": "alpha", "year": 2020},
            {"id": 7, "text": "beta"},
            "",
            {"doc_id": "c", "text": "γάμμα ünïcode"},
        ],
    )
    documents = load_corpus(path)
    assert [(d.id, d.title, d.text) for d in documents] == [("a", "T", "alpha"), ("7", None, "beta"),
                                                            ("c", None, "γάμμα ünïcode")]  # fmt: skip
    assert documents[0].metadata == {"year": 2020}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"text": "no id"}', "no document id"),
        ('{"id": "x"}', "'text' must be a string"),
        ('{"id": "x", "text": "t", "title": 3}', "'title' must be a string"),
        ("[1, 2]", "expected a JSON object"),
        ("{broken", "not valid JSON"),
    ],
)
def test_malformed_lines_are_named_with_file_and_line(tmp_path, line, message):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"id": "ok", "text": "fine"}, line])
    with pytest.raises(ValueError, match=message) as raised:
        load_corpus(path)
    assert "bad.jsonl:2" in str(raised.value)


def test_duplicate_ids_are_rejected(tmp_path):
    path = write_jsonl(tmp_path / "dup.jsonl", [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}])
    with pytest.raises(ValueError, match="duplicate document id 'a'"):
        load_corpus(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="corpus file not found"):
        load_corpus(tmp_path / "absent.jsonl")


def test_id_fields_that_disagree_are_an_error_naming_the_line(tmp_path):
    path = write_jsonl(tmp_path / "ids.jsonl", [{"id": "a", "text": "x"}, {"id": "b", "_id": "c", "text": "y"}])
    with pytest.raises(ValueError, match=r"ids\.jsonl:2: the id fields disagree"):
        load_corpus(path)
    agreeing = write_jsonl(tmp_path / "same.jsonl", [{"id": "b", "_id": "b", "text": "y"}])
    assert [d.id for d in load_corpus(agreeing)] == ["b"]


def test_random_bytes_are_named_by_file_and_line(tmp_path):
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(b'{"id": "a", "text": "fine"}\n\xff\xfe\x00garbage\n')
    with pytest.raises(ValueError, match=r"bytes\.jsonl:2: not UTF-8"):
        load_corpus(path)


def test_a_gz_name_on_a_plain_file_is_a_clear_error(tmp_path):
    path = tmp_path / "plain.jsonl.gz"
    path.write_text('{"id": "a", "text": "x"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="not a readable gzip file"):
        load_corpus(path)


def test_an_empty_corpus_is_an_error(tmp_path):
    path = write_jsonl(tmp_path / "empty.jsonl", ["", "   "])
    with pytest.raises(ValueError, match="holds no documents"):
        load_corpus(path)


def test_sentence_split_records_read_like_the_beir_loader(tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", [{"doc_id": 4, "title": "T", "sentences": ["One.", "Two."]}])
    (document,) = load_corpus(path)
    assert (document.id, document.text, document.metadata["sentences"]) == ("4", "One. Two.", ["One.", "Two."])


def test_duplicate_ids_name_both_lines(tmp_path):
    path = write_jsonl(
        tmp_path / "dup.jsonl", [{"id": "a", "text": "x"}, {"id": "b", "text": "z"}, {"_id": "a", "text": "y"}]
    )
    with pytest.raises(ValueError, match=r"dup\.jsonl:3: duplicate document id 'a' \(first on line 1\)"):
        load_corpus(path)


def test_a_lone_surrogate_escape_is_refused_with_the_line(tmp_path):
    path = tmp_path / "sur.jsonl"
    path.write_text('{"id": "a", "text": "bad \\ud800 text"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"sur\.jsonl:1: .*unpaired surrogate"):
        load_corpus(path)
