from __future__ import annotations

import json

import numpy as np
import pytest

import retrievers.storage as storage
from retrievers import BM25Retriever, IndexFormatError, Tokenizer, load_retriever

QUERIES = ["heart attack risk", "paris", "café", "blood pressure coffee", "xylophone"]


def bm25(documents, **options):
    return BM25Retriever(documents, show_progress=False, **options)


def results(retriever, k=5):
    return [retriever.retrieve(query, k=k) for query in QUERIES]


@pytest.mark.parametrize("engine", ["sparse", "rank-bm25"])
def test_round_trip_gives_identical_results(corpus, tmp_path, engine):
    tokenizer = Tokenizer(stopwords=["paris"], stemmer=None)
    original = bm25(corpus, engine=engine, k1=1.2, b=0.6, tokenizer=tokenizer, name="sparse-words")
    original.save(tmp_path / "index")
    loaded = BM25Retriever.load(tmp_path / "index", show_progress=False)
    assert loaded.engine_name == engine and loaded.tokenizer == tokenizer and loaded.name == "sparse-words"
    assert (loaded.k1, loaded.b, loaded.epsilon) == (1.2, 0.6, 0.25)
    assert loaded.documents == original.documents
    assert results(loaded) == results(original)
    assert load_retriever(tmp_path / "index").retrieve("heart", k=3) == original.retrieve("heart", k=3)


def test_engine_can_be_switched_on_load(corpus, tmp_path):
    original = bm25(corpus)
    original.save(tmp_path / "index")
    loaded = BM25Retriever.load(tmp_path / "index", engine="rank-bm25")
    for query in QUERIES:
        np.testing.assert_allclose(loaded.scores(query), original.scores(query), rtol=1e-12)


def test_empty_corpus_round_trip(tmp_path):
    bm25([]).save(tmp_path / "empty")
    assert BM25Retriever.load(tmp_path / "empty").retrieve("anything", k=3) == []


def test_saved_files_are_numpy_and_json_only(corpus, tmp_path):
    directory = bm25(corpus).save(tmp_path / "index")
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["format_version"] == storage.FORMAT_VERSION and manifest["kind"] == "bm25"
    for name, entry in manifest["files"].items():
        path = directory / name
        assert path.stat().st_size == entry["bytes"] and len(entry["sha256"]) == 64
        if name.endswith(".npy"):
            assert np.load(path, allow_pickle=False).dtype != object
        elif name.endswith(".json"):
            json.loads(path.read_text())
        else:
            assert name == "documents.jsonl"
            [json.loads(line) for line in path.read_text().splitlines()]


def test_truncated_file_is_named(corpus, tmp_path):
    directory = bm25(corpus).save(tmp_path / "index")
    path = directory / "doc_ids.npy"
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(IndexFormatError, match=r"doc_ids\.npy is truncated or modified"):
        BM25Retriever.load(directory)


def test_tampered_file_of_the_same_size_is_named(corpus, tmp_path):
    directory = bm25(corpus).save(tmp_path / "index")
    path = directory / "documents.jsonl"
    data = bytearray(path.read_bytes())
    data[20] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IndexFormatError, match=r"documents\.jsonl has been modified"):
        BM25Retriever.load(directory)


def test_verify_false_still_checks_sizes_and_array_consistency(corpus, tmp_path):
    directory = bm25(corpus).save(tmp_path / "index")
    path = directory / "indptr.npy"
    array = np.load(path)
    array[1] = array[-1] + 5  # same size, inconsistent offsets
    np.save(path, array)
    with pytest.raises(IndexFormatError, match="has been modified"):
        BM25Retriever.load(directory)
    with pytest.raises(IndexFormatError, match="inconsistent BM25 index"):
        BM25Retriever.load(directory, verify=False)
    (directory / "counts.npy").write_bytes(b"")
    with pytest.raises(IndexFormatError, match=r"counts\.npy is truncated"):
        BM25Retriever.load(directory, verify=False)


def test_missing_file_manifest_and_directory(corpus, tmp_path):
    directory = bm25(corpus).save(tmp_path / "index")
    (directory / "vocabulary.json").unlink()
    with pytest.raises(IndexFormatError, match=r"vocabulary\.json is missing"):
        BM25Retriever.load(directory)
    (directory / "manifest.json").unlink()
    with pytest.raises(IndexFormatError, match=r"manifest\.json is missing"):
        BM25Retriever.load(directory)
    with pytest.raises(FileNotFoundError, match="directory not found"):
        BM25Retriever.load(tmp_path / "nowhere")


def test_damaged_manifest_and_other_format_versions(corpus, tmp_path):
    directory = bm25(corpus).save(tmp_path / "index")
    manifest_path = directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(IndexFormatError, match="format_version 99"):
        BM25Retriever.load(directory)
    manifest_path.write_text(json.dumps({**manifest, "kind": "dense"}))
    with pytest.raises(IndexFormatError, match="holds a saved 'dense' retriever"):
        BM25Retriever.load(directory)
    manifest_path.write_text(manifest_path.read_text()[:50])
    with pytest.raises(IndexFormatError, match="not valid JSON"):
        BM25Retriever.load(directory)


def test_save_replaces_an_index_but_not_other_directories(corpus, tmp_path):
    target = tmp_path / "index"
    bm25(corpus[:2]).save(target)
    bm25(corpus).save(target)
    assert len(BM25Retriever.load(target)) == len(corpus)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]  # no temporary directories left behind
    other = tmp_path / "notes"
    other.mkdir()
    (other / "todo.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="non-empty directory"):
        bm25(corpus).save(other)
    assert (other / "todo.txt").read_text() == "keep me"


def test_a_failed_save_leaves_the_previous_index_intact(corpus, tmp_path, monkeypatch):
    target = tmp_path / "index"
    bm25(corpus[:3]).save(target)

    def fail(path, documents):
        path.write_text("partial")
        raise OSError("disk full")

    monkeypatch.setattr("retrievers.bm25.write_documents", fail)
    with pytest.raises(OSError, match="disk full"):
        bm25(corpus).save(target)
    assert len(BM25Retriever.load(target)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]
