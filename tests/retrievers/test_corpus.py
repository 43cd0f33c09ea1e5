from __future__ import annotations

import gzip
import json

import pytest

from retrievers.corpus import load_corpus


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
