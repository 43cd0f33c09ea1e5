"""Saved retriever directories: numpy arrays, JSON and JSONL files listed in a checksummed manifest.

Layout of a saved retriever::

    manifest.json     {"format": "nli-rerank-retriever", "format_version": 1, "kind": ..., "config": {...},
                       "files": {"<name>": {"bytes": n, "sha256": "..."}}}
    documents.jsonl   one {"id", "text", "title", "metadata"} object per line
    *.npy / *.json    arrays (saved with allow_pickle=False) and small JSON files, per retriever kind

Nothing is pickled. ``save_directory`` writes everything into a temporary sibling directory and renames it into
place, so a reader never sees a half-written index. ``open_directory`` checks each file's size and (by default)
SHA-256 before anything is parsed, so a truncated or modified file raises ``IndexFormatError`` naming it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rerank.records import Document

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "IndexFormatError",
    "SavedDirectory",
    "check_unique_ids",
    "open_directory",
    "read_documents",
    "read_manifest",
    "save_directory",
    "write_documents",
]

FORMAT_NAME = "nli-rerank-retriever"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DOCUMENTS = "documents.jsonl"
_CHUNK = 1 << 20


class IndexFormatError(ValueError):
    """A saved retriever directory is missing, truncated, modified or of another kind or format version."""


def check_unique_ids(documents: Iterable[Document], seen: set[str] | None = None) -> set[str]:
    """Raise ValueError naming the first repeated document id; returns the set of ids (extended in place)."""
    seen = set() if seen is None else seen
    for document in documents:
        if document.id in seen:
            raise ValueError(f"duplicate document id {document.id!r}; document ids must be unique within a retriever")
        seen.add(document.id)
    return seen


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_documents(path: Path, documents: Iterable[Document]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for document in documents:
            record = {"id": document.id, "text": document.text, "title": document.title}
            if document.metadata:
                record["metadata"] = document.metadata
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_documents(path: Path) -> list[Document]:
    documents = []
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            try:
                record = json.loads(line)
                documents.append(
                    Document(
                        id=record["id"],
                        text=record["text"],
                        title=record.get("title"),
                        metadata=record.get("metadata", {}),
                    )
                )
            except (ValueError, KeyError, TypeError) as error:
                raise IndexFormatError(f"{path}:{line_number}: not a valid document record ({error})") from error
    return documents


@contextlib.contextmanager
def save_directory(directory: str | Path, kind: str, config: dict[str, Any]) -> Iterator[Path]:
    """Yield a temporary directory to write files into; on success add the manifest and move it to ``directory``.

    An existing saved retriever at ``directory`` is replaced; an existing non-empty directory that is not a saved
    retriever is left alone and raises FileExistsError.
    """
    target = Path(directory)
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"cannot save a retriever to {target}: it exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not (target / MANIFEST).is_file():
        raise FileExistsError(f"cannot save a retriever to {target}: it is a non-empty directory without {MANIFEST}")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield staging
        files = {
            path.relative_to(staging).as_posix(): {"bytes": path.stat().st_size, "sha256": _sha256(path)}
            for path in sorted(staging.rglob("*"))
            if path.is_file()
        }
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "kind": kind,
            "config": config,
            "files": files,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _move_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _move_into_place(staging: Path, target: Path) -> None:
    if not target.exists():
        os.replace(staging, target)
        return
    if not any(target.iterdir()):
        target.rmdir()
        os.replace(staging, target)
        return
    # rename(2) cannot replace a non-empty directory: move the old index aside, swap, then delete it.
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    old.rmdir()
    os.replace(target, old)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The parsed manifest of a saved retriever, after checking its format name and version."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not directory.is_dir():
        raise FileNotFoundError(f"no saved retriever at {directory}: directory not found")
    if not path.is_file():
        raise IndexFormatError(f"{directory} is not a saved retriever: {MANIFEST} is missing")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise IndexFormatError(f"{path} is not valid JSON ({error}); the file is damaged") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise IndexFormatError(f"{path} is not a {FORMAT_NAME} manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexFormatError(
            f"{path} has format_version {version!r}; this version of nli-rerank reads format_version {FORMAT_VERSION}"
        )
    for key in ("kind", "config", "files"):
        if key not in manifest:
            raise IndexFormatError(f"{path} lacks the field {key!r}")
    return manifest


class SavedDirectory:
    """A verified saved retriever: every file listed in the manifest exists with the recorded size and hash."""

    def __init__(self, directory: Path, manifest: dict[str, Any]):
        self.directory = directory
        self.manifest = manifest
        self.config: dict[str, Any] = manifest["config"]

    def path(self, name: str) -> Path:
        if name not in self.manifest["files"]:
            raise IndexFormatError(f"{self.directory / MANIFEST} does not list the file {name!r}")
        return self.directory / name

    def array(self, name: str, mmap: bool = False) -> np.ndarray:
        path = self.path(name)
        try:
            return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
        except (ValueError, OSError, EOFError) as error:
            raise IndexFormatError(f"{path} is not a readable numpy array ({error})") from error

    def json(self, name: str) -> Any:
        path = self.path(name)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise IndexFormatError(f"{path} is not valid JSON ({error})") from error

    def documents(self) -> list[Document]:
        return read_documents(self.path(DOCUMENTS))


def open_directory(directory: str | Path, kind: str, verify: bool = True) -> SavedDirectory:
    """Check a saved retriever's manifest, kind and files; ``verify=False`` checks sizes but skips SHA-256."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    if manifest["kind"] != kind:
        raise IndexFormatError(
            f"{directory} holds a saved {manifest['kind']!r} retriever, not {kind!r}; "
            "load it with its own class or retrievers.load_retriever"
        )
    for name, entry in manifest["files"].items():
        path = directory / name
        if not path.is_file():
            raise IndexFormatError(f"{path} is missing; the manifest lists it")
        size = path.stat().st_size
        if size != entry.get("bytes"):
            raise IndexFormatError(f"{path} is truncated or modified: {size} bytes, the manifest says {entry['bytes']}")
        if verify and _sha256(path) != entry.get("sha256"):
            raise IndexFormatError(f"{path} has been modified: its SHA-256 does not match the manifest")
    return SavedDirectory(directory, manifest)
