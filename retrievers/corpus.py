"""Read a corpus of documents from JSONL (optionally gzip-compressed).

Each line is a JSON object; the id comes from ``id``, ``_id`` or ``doc_id``, the text from ``text``, with an
optional ``title``; any other fields go to ``metadata``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

from rerank.records import Document

__all__ = ["ID_FIELDS", "iter_corpus", "load_corpus"]

ID_FIELDS = ("id", "_id", "doc_id")


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _document(record: object, path: Path, line_number: int) -> Document:
    where = f"{path}:{line_number}"
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    doc_id = next((record[field] for field in ID_FIELDS if field in record), None)
    if doc_id is None or str(doc_id).strip() == "":
        raise ValueError(f"{where}: no document id; expected one of the fields {list(ID_FIELDS)}")
    text = record.get("text")
    if not isinstance(text, str):
        raise ValueError(f"{where}: field 'text' must be a string, got {type(text).__name__}")
    title = record.get("title")
    if title is not None and not isinstance(title, str):
        raise ValueError(f"{where}: field 'title' must be a string, got {type(title).__name__}")
    metadata = {key: value for key, value in record.items() if key not in {*ID_FIELDS, "text", "title"}}
    return Document(id=str(doc_id), text=text, title=title or None, metadata=metadata)


def iter_corpus(path: str | Path) -> Iterator[Document]:
    """Yield documents from a .jsonl or .jsonl.gz file, naming the file and line of any malformed record."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"corpus file not found: {path}")
    with _open_text(path) as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{line_number}: not valid JSON ({error.msg})") from error
            yield _document(record, path, line_number)


def load_corpus(path: str | Path) -> list[Document]:
    """All documents of a corpus file; duplicate ids are an error.

    Example:
        >>> docs = load_corpus("examples/corpus.jsonl")  # doctest: +SKIP
    """
    documents, seen = [], set()
    for document in iter_corpus(path):
        if document.id in seen:
            raise ValueError(f"{path}: duplicate document id {document.id!r}")
        seen.add(document.id)
        documents.append(document)
    return documents
