"""Saved retriever directories: numpy arrays, JSON and JSONL files listed in a checksummed manifest.

Layout of a saved retriever (format 2)::

    <directory>/
        current.json        {"format": "nli-rerank-retriever", "format_version": 2, "version": "version-<id>"}
        version-<id>/       the index current.json names (plus, after a save, the one it named before)
            manifest.json   {"format", "format_version": 2, "kind", "config": {...},
                             "files": {"<name>": {"bytes": n, "sha256": "..."}}}
            documents.jsonl one {"id", "text", "title", "metadata"} object per line
            *.npy / *.json  arrays (saved with allow_pickle=False) and small JSON files, per retriever kind
        .lock               held (flock) by a save from start to end

Nothing is pickled. A save writes a new version folder, fsyncs it, then switches ``current.json`` atomically
(temporary file, fsync, ``os.replace``, fsync of the directory): a process killed at any moment leaves the old
index or the new one, never a mix. Format 1 directories (manifest and files directly in ``<directory>``) are still
read, and a save over one removes their files only once ``current.json`` is in place. ``open_directory`` checks
every file's size and (by default) SHA-256 before anything is parsed, so a truncated or modified file raises
``IndexFormatError`` naming it; the manifest and the per-kind settings are validated by pydantic models.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import PlainValidator, ValidationInfo

from rerank.records import Document
from retrievers.settings import IndexFormatError, NonNegativeInt, RelativePath, Settings, Text, read_settings

__all__ = [
    "FLAT_VERSIONS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "LOCK",
    "MANIFEST",
    "POINTER",
    "VERSION_NAME",
    "FileEntry",
    "IndexFormatError",
    "Manifest",
    "Pointer",
    "SavedDirectory",
    "check_format",
    "check_unique_ids",
    "load_manifest",
    "open_directory",
    "read_documents",
    "read_json",
    "read_manifest",
    "read_manifest_file",
    "read_pointer",
    "resolve_directory",
    "sha256_file",
    "write_documents",
]

FORMAT_NAME = "nli-rerank-retriever"
FORMAT_VERSION = 2
FLAT_VERSIONS = (1, 2)  # manifest.json at the top of a folder without current.json: format 1, or a version folder
MANIFEST = "manifest.json"
POINTER = "current.json"
LOCK = ".lock"
DOCUMENTS = "documents.jsonl"
_CHUNK = 1 << 20
VERSION_NAME = re.compile(r"version-\d{8}T\d{6}-[0-9a-f]{8}")


def _sha256_text(value: object, info: ValidationInfo) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError(f"{info.field_name} must be 64 lowercase hex digits, got {value!r}")
    return value


class FileEntry(Settings):
    bytes: NonNegativeInt
    sha256: Annotated[str, PlainValidator(_sha256_text)]


class Manifest(Settings):
    format: Text
    format_version: NonNegativeInt
    kind: Text
    config: dict[str, Any]
    files: dict[RelativePath, FileEntry]


def _version_name(value: object, info: ValidationInfo) -> str:
    if not isinstance(value, str) or not VERSION_NAME.fullmatch(value):
        raise ValueError(
            f"{info.field_name} must name a version folder like 'version-20260101T000000-0123abcd', got {value!r}"
        )
    return value


class Pointer(Settings):
    format: Text
    format_version: NonNegativeInt
    version: Annotated[str, PlainValidator(_version_name)]


def check_unique_ids(documents: Iterable[Document], seen: set[str] | None = None) -> set[str]:
    """Raise ValueError naming the first repeated document id; returns the set of ids (extended in place)."""
    seen = set() if seen is None else seen
    for document in documents:
        if document.id in seen:
            raise ValueError(f"duplicate document id {document.id!r}; document ids must be unique within a retriever")
        seen.add(document.id)
    return seen


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_documents(path: Path, documents: Iterable[Document]) -> None:
    """Write one JSON line per document; ValueError naming the document whose metadata is not JSON data in valid
    Unicode (a set, an object, a lone surrogate), which could not be read back."""
    with path.open("wb") as handle:
        for document in documents:
            record: dict[str, Any] = {"id": document.id, "text": document.text, "title": document.title}
            if document.metadata:
                record["metadata"] = document.metadata
            try:
                handle.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
            except (TypeError, ValueError) as error:
                raise ValueError(
                    f"document {document.id!r} cannot be saved: its metadata must be JSON data (dicts, lists, "
                    f"strings, numbers, booleans, None) in valid Unicode ({error})"
                ) from None


def read_documents(path: Path) -> list[Document]:
    """The documents of a documents.jsonl file; IndexFormatError naming the file and line of a bad record."""
    documents = []
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                record = json.loads(raw.decode("utf-8"))
                documents.append(
                    Document(
                        id=record["id"],
                        text=record["text"],
                        title=record.get("title"),
                        metadata=record.get("metadata", {}),
                    )
                )
            except UnicodeDecodeError as error:
                raise IndexFormatError(
                    f"{path}:{line_number}: not valid UTF-8 ({error}); the file is damaged"
                ) from None
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
                raise IndexFormatError(f"{path}:{line_number}: not a valid document record ({error})") from error
    return documents


def read_json(path: Path) -> Any:
    """A JSON file's value; IndexFormatError naming the file when it is not UTF-8 JSON."""
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as error:  # not UTF-8, not JSON, nested too deeply, an int of 4300+ digits
        raise IndexFormatError(f"{path} is not valid JSON ({error}); the file is damaged") from error


def check_format(data: Any, path: Path, versions: tuple[int, ...]) -> None:
    """IndexFormatError unless ``data`` (read from ``path``) is a dict of this format at one of ``versions``."""
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise IndexFormatError(f"{path} is not a {FORMAT_NAME} file")
    if data.get("format_version") not in versions:
        raise IndexFormatError(
            f"{path} has format_version {data.get('format_version')!r}; this version of nli-rerank reads "
            f"format_version {' or '.join(map(str, versions))} there"
        )


def read_pointer(directory: Path) -> str:
    """The version folder name that ``directory/current.json`` names (IndexFormatError when it is damaged)."""
    path = directory / POINTER
    data = read_json(path)
    check_format(data, path, (FORMAT_VERSION,))
    return read_settings(Pointer, data, path, field=None).version


def resolve_directory(directory: str | Path) -> Path:
    """The folder holding the manifest and files of the retriever saved at ``directory``.

    Format 2: the version folder that ``current.json`` names (it wins over any format 1 files beside it).
    Without ``current.json``: ``directory`` itself, holding a format 1 index or a copied format 2 version folder.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"no saved retriever at {directory}: directory not found")
    if os.path.lexists(directory / POINTER):
        version = directory / read_pointer(directory)
        if not version.is_dir():
            raise IndexFormatError(
                f"{directory / POINTER} names {version.name}, which is missing; the index is damaged"
            )
        return version
    if os.path.lexists(directory / MANIFEST):
        return directory
    raise IndexFormatError(f"{directory} is not a saved retriever: {POINTER} and {MANIFEST} are missing")


def load_manifest(directory: str | Path) -> tuple[Path, Manifest]:
    """The folder holding a saved retriever's files and its validated manifest."""
    folder = resolve_directory(directory)
    path = folder / MANIFEST
    if not path.is_file():
        raise IndexFormatError(f"{path} is missing; {folder} is not a complete saved retriever")
    return folder, read_manifest_file(path, FLAT_VERSIONS if folder == Path(directory) else (FORMAT_VERSION,))


def read_manifest_file(path: Path, versions: tuple[int, ...]) -> Manifest:
    """The validated manifest in ``path``, whose ``format_version`` must be one of ``versions``."""
    data = read_json(path)
    check_format(data, path, versions)
    return read_settings(Manifest, data, path, field=None)


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The validated manifest (format, format_version, kind, config, files) of a saved retriever."""
    return load_manifest(directory)[1].model_dump()


class SavedDirectory:
    """A verified saved retriever: every file listed in the manifest exists with the recorded size and hash."""

    def __init__(self, directory: Path, manifest: Manifest):
        self.directory = directory
        self.manifest_path = directory / MANIFEST
        self.files = dict(manifest.files)
        self.config: dict[str, Any] = manifest.config

    def path(self, name: str) -> Path:
        if name not in self.files:
            raise IndexFormatError(f"{self.manifest_path} does not list the file {name!r}")
        return self.directory / name

    def array(self, name: str, mmap: bool = False) -> np.ndarray:
        path = self.path(name)
        try:
            return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
        except (ValueError, OSError, EOFError) as error:
            raise IndexFormatError(f"{path} is not a readable numpy array ({error})") from error

    def json(self, name: str) -> Any:
        return read_json(self.path(name))

    def documents(self) -> list[Document]:
        return read_documents(self.path(DOCUMENTS))


def open_directory(directory: str | Path, kind: str, verify: bool = True) -> SavedDirectory:
    """Check a saved retriever's manifest, kind and files; ``verify=False`` checks sizes but skips SHA-256."""
    folder, manifest = load_manifest(directory)
    if manifest.kind != kind:
        raise IndexFormatError(
            f"{directory} holds a saved {manifest.kind!r} retriever, not {kind!r}; "
            "load it with its own class or retrievers.load_retriever"
        )
    for name, entry in manifest.files.items():
        path = folder / name
        if not path.is_file():
            raise IndexFormatError(f"{path} is missing; the manifest lists it")
        size = path.stat().st_size
        if size != entry.bytes:
            raise IndexFormatError(f"{path} is truncated or modified: {size} bytes, the manifest says {entry.bytes}")
        if verify and sha256_file(path) != entry.sha256:
            raise IndexFormatError(f"{path} has been modified: its SHA-256 does not match the manifest")
    return SavedDirectory(folder, manifest)
