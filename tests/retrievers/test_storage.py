from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import retrievers.hybrid
import retrievers.storage as storage
from rerank.fusion import zscore
from retrievers import BM25Retriever, HybridRetriever, IndexFormatError, Tokenizer, load_retriever

DATA = Path(__file__).parent / "data"

QUERIES = ["heart attack risk", "paris", "café", "blood pressure coffee", "xylophone"]


def bm25(documents, **options):
    return BM25Retriever(documents, show_progress=False, **options)


def results(retriever, k=5):
    return [retriever.retrieve(query, k=k) for query in QUERIES]


def files(directory):
    """The version folder holding the manifest and files of the index saved at ``directory``."""
    return storage.resolve_directory(directory)


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
    directory = files(bm25(corpus).save(tmp_path / "index"))
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
    path = files(directory) / "doc_ids.npy"
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(IndexFormatError, match=r"doc_ids\.npy is truncated or modified"):
        BM25Retriever.load(directory)


def test_tampered_file_of_the_same_size_is_named(corpus, tmp_path):
    directory = bm25(corpus).save(tmp_path / "index")
    path = files(directory) / "documents.jsonl"
    data = bytearray(path.read_bytes())
    data[20] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IndexFormatError, match=r"documents\.jsonl has been modified"):
        BM25Retriever.load(directory)


def test_verify_false_still_checks_sizes_and_array_consistency(corpus, tmp_path):
    directory = bm25(corpus).save(tmp_path / "index")
    path = files(directory) / "indptr.npy"
    array = np.load(path)
    array[1] = array[-1] + 5  # same size, inconsistent offsets
    np.save(path, array)
    with pytest.raises(IndexFormatError, match="has been modified"):
        BM25Retriever.load(directory)
    with pytest.raises(IndexFormatError, match="inconsistent BM25 index"):
        BM25Retriever.load(directory, verify=False)
    (files(directory) / "counts.npy").write_bytes(b"")
    with pytest.raises(IndexFormatError, match=r"counts\.npy is truncated"):
        BM25Retriever.load(directory, verify=False)


def test_missing_file_manifest_and_directory(corpus, tmp_path):
    directory = bm25(corpus).save(tmp_path / "index")
    (files(directory) / "vocabulary.json").unlink()
    with pytest.raises(IndexFormatError, match=r"vocabulary\.json is missing"):
        BM25Retriever.load(directory)
    (files(directory) / "manifest.json").unlink()
    with pytest.raises(IndexFormatError, match=r"manifest\.json is missing"):
        BM25Retriever.load(directory)
    with pytest.raises(FileNotFoundError, match="directory not found"):
        BM25Retriever.load(tmp_path / "nowhere")


def test_damaged_manifest_and_other_format_versions(corpus, tmp_path):
    directory = bm25(corpus).save(tmp_path / "index")
    manifest_path = files(directory) / "manifest.json"
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
    first = storage.read_pointer(target)
    bm25(corpus).save(target)
    assert len(BM25Retriever.load(target)) == len(corpus)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]  # nothing beside the index
    assert sorted(p.name for p in target.iterdir()) == sorted([".lock", "current.json", first, files(target).name])
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
    assert not any(p.name.startswith(".staging-") for p in target.iterdir())


# --- format 1 directories (written by the format 1 code, kept in tests/retrievers/data) --------------------------


def test_format_1_directories_still_load_with_identical_results(corpus):
    stemmed = bm25(corpus)
    plain = bm25(corpus, tokenizer=Tokenizer(stemmer=None), name="plain")
    assert results(BM25Retriever.load(DATA / "v1-bm25")) == results(stemmed)
    loaded = load_retriever(DATA / "v1-hybrid", show_progress=False)
    hybrid = HybridRetriever([stemmed, plain], fusion="weighted", weights=[2.0, 1.0], depth=5)
    assert loaded.retrieve_many(QUERIES, k=3) == hybrid.retrieve_many(QUERIES, k=3)
    assert storage.read_manifest(DATA / "v1-bm25")["format_version"] == 1


def test_current_json_wins_over_format_1_files_beside_it(corpus, tmp_path):
    target = tmp_path / "index"
    shutil.copytree(DATA / "v1-bm25", target)
    version = files(bm25(corpus[:2]).save(tmp_path / "other"))
    shutil.copytree(version, target / version.name)
    shutil.copy(tmp_path / "other" / "current.json", target / "current.json")
    assert [d.id for d in BM25Retriever.load(target).documents] == [d.id for d in corpus[:2]]


def test_a_copied_version_folder_loads_and_can_be_saved_over(corpus, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(files(bm25(corpus[:2]).save(tmp_path / "index")), copy)
    assert [d.id for d in BM25Retriever.load(copy).documents] == [d.id for d in corpus[:2]]
    bm25(corpus).save(copy)
    assert len(BM25Retriever.load(copy)) == len(corpus)
    assert sorted(p.name for p in copy.iterdir()) == sorted([".lock", "current.json", files(copy).name])


# --- the manifest and the settings are validated like the constructor's arguments -------------------------------


def rewrite_manifest(directory, change):
    path = files(directory) / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def set_config(key, value):
    return lambda manifest: manifest["config"].__setitem__(key, value)


def set_tokenizer(key, value):
    return lambda manifest: manifest["config"]["tokenizer"].__setitem__(key, value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.__setitem__("files", []), r"invalid files: files must be an object, got an array"),
        (lambda m: m.__setitem__("config", None), r"invalid config: config must be an object, got null"),
        (lambda m: m.__setitem__("kind", 3), r"invalid kind: kind must be a str, got int"),
        (lambda m: m["files"].__setitem__("../../x", {"bytes": 1, "sha256": "0" * 64}), r"plain relative path"),
        (lambda m: m["files"]["counts.npy"].__setitem__("sha256", "xyz"), r"sha256 must be 64 lowercase hex"),
        (lambda m: m["files"]["counts.npy"].__setitem__("bytes", -1), r"bytes must be >= 0"),
        (lambda m: m.pop("config"), r"invalid config: config is missing"),
        (set_config("tokenizer", "en"), r"invalid config\.tokenizer: tokenizer must be an object, got a string"),
        (set_config("tokenizer", ["en"]), r"invalid config\.tokenizer: tokenizer must be an object, got an array"),
        (set_tokenizer("stopwords", "klingon"), r"config\.tokenizer: unknown stopword list 'klingon'"),
        (set_tokenizer("pattern", "("), r"config\.tokenizer: pattern '\(' is not a valid regular expression"),
        (set_tokenizer("lowercase", "yes"), r"config\.tokenizer\.lowercase: lowercase must be a bool, got str"),
        (set_config("k1", -5), r"invalid config\.k1: k1 must be >= 0\.0, got -5"),
        (set_config("k1", "1.2"), r"invalid config\.k1: k1 must be a number, got str"),
        (set_config("b", 1.5), r"invalid config\.b: b must be in \[0\.0, 1\.0\], got 1\.5"),
        (set_config("epsilon", float("nan")), r"invalid config\.epsilon: epsilon must be >= 0\.0, got nan"),
        (set_config("engine", "lucene"), r"invalid config\.engine: unknown BM25 engine 'lucene'"),
        (set_config("name", None), r"invalid config\.name: name must be a str, got NoneType"),
        (set_config("n_documents", -1), r"invalid config\.n_documents: n_documents must be >= 0"),
        (set_config("surprise", 1), r"invalid config\.surprise: surprise is not a known setting"),
        (lambda m: m["config"].pop("k1"), r"invalid config\.k1: k1 is missing"),
    ],
)
def test_an_invalid_manifest_is_refused_naming_the_field(corpus, tmp_path, change, message):
    directory = bm25(corpus).save(tmp_path / "index")
    rewrite_manifest(directory, change)
    with pytest.raises(IndexFormatError, match=r"manifest\.json: .*" + message):
        BM25Retriever.load(directory)


@pytest.mark.parametrize(("setting", "value"), [("k1", -5), ("b", 1.5), ("epsilon", -0.1), ("engine", "lucene")])
def test_the_loader_refuses_what_the_constructor_refuses(corpus, tmp_path, setting, value):
    with pytest.raises(ValueError) as refused:
        bm25(corpus, **{setting: value})
    directory = bm25(corpus).save(tmp_path / "index")
    rewrite_manifest(directory, set_config(setting, value))
    with pytest.raises(IndexFormatError) as error:
        BM25Retriever.load(directory)
    assert str(refused.value) in str(error.value)


def test_document_counts_that_disagree_with_the_manifest_are_refused(corpus, tmp_path):
    directory = bm25(corpus).save(tmp_path / "index")
    rewrite_manifest(directory, set_config("n_documents", 3))
    with pytest.raises(IndexFormatError, match="has 8 documents, the index 8, the manifest 3"):
        BM25Retriever.load(directory)


def test_damaged_documents_are_named_with_their_line_even_without_verification(corpus, tmp_path):
    directory = bm25(corpus).save(tmp_path / "index")
    path = files(directory) / "documents.jsonl"
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2][:10] + b"\xff" + lines[2][11:]  # same size: only the hash would notice
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(IndexFormatError, match=r"documents\.jsonl has been modified"):
        BM25Retriever.load(directory)
    with pytest.raises(IndexFormatError, match=r"documents\.jsonl:3: not valid UTF-8"):
        BM25Retriever.load(directory, verify=False)


def test_damaged_pointer_is_named(corpus, tmp_path):
    directory = bm25(corpus).save(tmp_path / "index")
    (directory / "current.json").write_text(
        '{"format": "nli-rerank-retriever", "format_version": 2, "version": "../x"}'
    )
    with pytest.raises(IndexFormatError, match=r"current\.json: invalid version: version must name a version folder"):
        BM25Retriever.load(directory)
    with pytest.raises(FileExistsError, match=r"damaged current\.json"):
        bm25(corpus).save(directory)


def test_hybrid_uses_the_one_zscore_of_rerank_fusion():
    assert retrievers.hybrid.zscore is zscore
    assert retrievers.hybrid.NORMALIZATIONS["zscore"] is zscore
