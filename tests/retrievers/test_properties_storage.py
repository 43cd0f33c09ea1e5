"""Property tests of saved retrievers: damaged manifests and pointer files raise IndexFormatError naming the file,
a save never overwrites what it cannot read, and save -> load gives back the same retriever exactly."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import retrievers.storage as storage
from rerank.records import Document
from retrievers import BM25Retriever, IndexFormatError, Tokenizer, load_retriever

PROPERTY = settings(max_examples=100, deadline=None, derandomize=True, database=None)
ROUND_TRIPS = settings(PROPERTY, max_examples=40)  # each example saves (with fsyncs) and loads an index

utf8_text = st.text(st.characters(codec="utf-8"), max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | utf8_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(utf8_text, inner, max_size=3),
    max_leaves=8,
)
# What a JSON file might hold: arbitrary bytes, arbitrary text, or any JSON value.
file_contents = st.one_of(
    st.binary(max_size=200),
    utf8_text.map(str.encode),
    json_values.map(lambda value: json.dumps(value).encode()),
)
DOCUMENTS = [
    Document(id="aspirin", title="Aspirin", text="Aspirin lowers the risk of a heart attack.", metadata={"year": 1}),
    Document(id="café", text="Le café crème est servi à Paris — 東京 データ."),
    Document(id="statins", text="Statins lower cholesterol and the risk of heart disease."),
]
QUERIES = ["heart attack", "café paris", "cholesterol", "データ"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """A BM25 retriever saved once (format 2); every example works on its own copy."""
    directory = tmp_path_factory.mktemp("saved") / "index"
    BM25Retriever(DOCUMENTS, show_progress=False).save(directory)
    return directory


@contextmanager
def copy_of(saved: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder) / "index"
        shutil.copytree(saved, directory)
        yield directory


def check_load_fails_naming(directory: Path, manifest: bool = True) -> None:
    """Loading ``directory`` raises IndexFormatError (nothing else) whose message names a path inside it; so does
    reading its manifest alone when ``manifest``."""
    loads = [
        lambda: BM25Retriever.load(directory, show_progress=False),
        lambda: load_retriever(directory, show_progress=False),
    ]
    for load in [*loads, lambda: storage.read_manifest(directory)] if manifest else loads:
        with pytest.raises(IndexFormatError) as error:
            load()
        assert str(directory) in str(error.value)


def check_save_refuses(directory: Path, damaged: Path) -> None:
    """A save over ``directory`` raises FileExistsError naming it and leaves the damaged file as it was."""
    before = damaged.read_bytes()
    with pytest.raises(FileExistsError, match="left untouched") as error:
        BM25Retriever(["another corpus"], show_progress=False).save(directory)
    assert str(directory) in str(error.value)
    assert damaged.read_bytes() == before


@PROPERTY
@given(data=file_contents)
def test_damaged_pointer_file_raises_index_format_error_naming_it(saved, data):
    with copy_of(saved) as directory:
        (directory / storage.POINTER).write_bytes(data)
        check_load_fails_naming(directory)
        check_save_refuses(directory, directory / storage.POINTER)


pointer_fields = {
    "format": st.sampled_from([storage.FORMAT_NAME, "other"]) | json_values,
    "format_version": st.sampled_from([storage.FORMAT_VERSION, 1, 3, 2.0, True, "2"]) | json_values,
    "version": st.sampled_from(["version-20260101T000000-0123abcd", "version-x", "../elsewhere"]) | json_values,
}


@PROPERTY
@given(
    pointer=st.fixed_dictionaries({}, optional=pointer_fields),
    extra=st.dictionaries(utf8_text, json_values, max_size=2),
)
def test_pointer_with_wrong_fields_raises_index_format_error_naming_it(saved, pointer, extra):
    with copy_of(saved) as directory:
        (directory / storage.POINTER).write_text(json.dumps({**extra, **pointer}), encoding="utf-8")
        check_load_fails_naming(directory)


@PROPERTY
@given(data=file_contents, flat=st.booleans())
def test_damaged_manifest_raises_index_format_error_naming_it(saved, data, flat):
    with copy_of(saved) as directory:
        if flat:  # a format 1 layout: the manifest at the top, no pointer file
            for name in [storage.POINTER, *(p.name for p in directory.glob("version-*"))]:
                (directory / name).unlink() if name == storage.POINTER else shutil.rmtree(directory / name)
            manifest = directory / storage.MANIFEST
        else:
            manifest = storage.resolve_directory(directory) / storage.MANIFEST
        manifest.write_bytes(data)
        check_load_fails_naming(directory)
        if flat:
            check_save_refuses(directory, manifest)


def _set(tree: dict, path: list[str], value: object) -> dict:
    """A copy of ``tree`` whose entry at ``path`` is ``value`` (created when missing; ``...`` deletes it)."""
    tree = dict(tree)
    if len(path) == 1:
        if value is ...:
            tree.pop(path[0], None)
        else:
            tree[path[0]] = value
        return tree
    inner = tree.get(path[0])
    tree[path[0]] = _set(inner if isinstance(inner, dict) else {}, path[1:], value)
    return tree


MANIFEST_PATHS = [
    ["format"], ["format_version"], ["kind"], ["config"], ["files"], ["unknown"],
    *[["config", key] for key in ("engine", "k1", "b", "epsilon", "name", "n_documents", "n_terms", "tokenizer", "x")],
    *[["config", "tokenizer", key] for key in ("lowercase", "stopwords", "stemmer", "pattern", "x")],
    *[["files", name] for name in ("documents.jsonl", "counts.npy", "vocabulary.json", "../x", "/abs", "a\\b", ".")],
    ["files", "documents.jsonl", "bytes"], ["files", "documents.jsonl", "sha256"], ["files", "indptr.npy", "x"],
]  # fmt: skip
manifest_values = st.one_of(
    st.just(...),  # delete the entry
    json_values,
    st.sampled_from([-1, 0, 2, 1.5, float("inf"), 10**30, "bm25", "dense", "rank-bm25", "0" * 64, "[", "(?P<", "en"]),
)


@PROPERTY
@given(changes=st.lists(st.tuples(st.sampled_from(MANIFEST_PATHS), manifest_values), min_size=1, max_size=3))
def test_manifest_with_wrong_fields_loads_or_raises_index_format_error_naming_it(saved, changes):
    with copy_of(saved) as directory:
        path = storage.resolve_directory(directory) / storage.MANIFEST
        manifest = json.loads(path.read_text(encoding="utf-8"))
        for where, value in changes:
            manifest = _set(manifest, where, value)
        path.write_text(json.dumps(manifest), encoding="utf-8")
        try:
            retriever = BM25Retriever.load(directory, show_progress=False)
        except IndexFormatError as error:
            assert str(directory) in str(error)
            return
        assert retriever.documents == DOCUMENTS  # a change the loader accepts must leave a working retriever
        retriever.retrieve("heart attack", k=3)


@PROPERTY
@given(lines=st.lists(json_values.map(json.dumps) | utf8_text, max_size=4) | st.binary(max_size=100))
def test_damaged_documents_file_with_a_matching_checksum_raises_index_format_error_naming_it(saved, lines):
    with copy_of(saved) as directory:
        folder = storage.resolve_directory(directory)
        data = lines if isinstance(lines, bytes) else "".join(line + "\n" for line in lines).encode()
        (folder / "documents.jsonl").write_bytes(data)
        manifest = json.loads((folder / storage.MANIFEST).read_text(encoding="utf-8"))
        manifest["files"]["documents.jsonl"] = {
            "bytes": len(data),
            "sha256": storage.sha256_file(folder / "documents.jsonl"),
        }
        (folder / storage.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        check_load_fails_naming(directory, manifest=False)


@pytest.mark.parametrize(
    "content",
    ["[" * 100_000, '{"format": "nli-rerank-retriever", "format_version": ' + "2" * 5000 + "}"],
    ids=["nested-too-deeply", "integer-over-4300-digits"],
)
@pytest.mark.parametrize("name", [storage.POINTER, storage.MANIFEST, "documents.jsonl"])
def test_json_the_parser_cannot_read_raises_index_format_error(saved, content, name):
    with copy_of(saved) as directory:
        folder = storage.resolve_directory(directory)
        path = directory / name if name == storage.POINTER else folder / name
        path.write_text(content, encoding="utf-8")
        if name == "documents.jsonl":  # keep the checksum right, so the reader itself meets the line
            with pytest.raises(IndexFormatError, match=r"documents\.jsonl:1") as error:
                storage.read_documents(path)
        else:
            with pytest.raises(IndexFormatError) as error:
                BM25Retriever.load(directory, show_progress=False)
        assert str(path) in str(error.value)


def test_missing_directory_raises_file_not_found_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved retriever") as error:
        BM25Retriever.load(tmp_path / "nothing")
    assert str(tmp_path / "nothing") in str(error.value)


words = st.sampled_from(["heart", "attack", "café", "Zürich", "東京", "データ", "naïve", "ǅemal", "ß", "İstanbul"])
document_text = st.lists(words | utf8_text, max_size=6).map(" ".join)
documents = st.lists(
    st.builds(
        Document,
        id=utf8_text.filter(str.strip),
        text=document_text,
        title=st.none() | utf8_text,
        metadata=st.dictionaries(utf8_text, json_values, max_size=3),
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda document: document.id,
)


@ROUND_TRIPS
@given(
    documents=documents,
    queries=st.lists(st.lists(words, min_size=1, max_size=3).map(" ".join) | document_text, min_size=1, max_size=3),
    engine=st.sampled_from(["sparse", "rank-bm25"]),
    name=utf8_text.filter(bool),
    stemmer=st.sampled_from([None, "english"]),
)
def test_save_then_load_gives_the_same_documents_and_results(documents, queries, engine, name, stemmer):
    tokenizer = Tokenizer(stemmer=stemmer)
    original = BM25Retriever(documents, engine=engine, tokenizer=tokenizer, name=name, show_progress=False)
    with tempfile.TemporaryDirectory() as folder:
        original.save(Path(folder) / "index")
        loaded = BM25Retriever.load(Path(folder) / "index", show_progress=False)
        again = load_retriever(Path(folder) / "index", show_progress=False)
    assert loaded.documents == again.documents == documents
    assert (loaded.name, loaded.engine_name, loaded.tokenizer) == (name, engine, tokenizer)
    for query in filter(str.strip, queries):
        expected = original.retrieve(query, k=10)
        assert loaded.retrieve(query, k=10) == again.retrieve(query, k=10) == expected


@pytest.mark.parametrize(
    "metadata", [{"note": "half a pair \ud800"}, {"\udfff": 1}, {"nested": [{"x": "\ud83d"}]}, {"set": {1, 2}}]
)
def test_save_refuses_metadata_that_is_not_json_in_valid_unicode_naming_the_document(tmp_path, metadata):
    documents = [Document(id="good", text="fine"), Document(id="bad", text="fine too", metadata=metadata)]
    with pytest.raises(ValueError, match="document 'bad'"):
        BM25Retriever(documents, show_progress=False).save(tmp_path / "index")
    assert not list((tmp_path / "index").glob("version-*"))


def test_save_refuses_settings_with_a_lone_surrogate_clearly(tmp_path):
    with pytest.raises(ValueError, match="unpaired surrogate") as error:
        BM25Retriever(["a text"], name="bm25\ud800", show_progress=False).save(tmp_path / "index")
    assert not isinstance(error.value, UnicodeError)
    assert not list((tmp_path / "index").glob("version-*"))
