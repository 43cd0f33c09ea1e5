"""The one reader of document files: JSONL, optionally gzip-compressed, for the retrievers, the CLI and eval's BEIR
loader alike, so one file gives the same documents and ids everywhere.

Each line is a JSON object. The id comes from ``id``, ``_id`` or ``doc_id`` (a line giving two of them with
different values is an error); the text from ``text``, or, for sentence-split corpora such as SciFact's
``corpus_sentences.jsonl.gz``, from ``sentences`` joined by spaces (the list is kept in ``metadata["sentences"]``);
an optional ``title``; every other field goes to ``metadata``. Duplicate ids are an error. Every error names the
file and line.

Example:
    >>> docs = load_corpus("examples/corpus.jsonl")  # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from rerank.records import Document

__all__ = ["ID_FIELDS", "document_from_record", "iter_corpus", "iter_jsonl", "iter_lines", "load_corpus", "open_text"]

ID_FIELDS = ("id", "_id", "doc_id")


def open_text(path: Path) -> IO[str]:
    """A UTF-8 text handle on ``path``, decompressing ``.gz`` files."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line, decoded one line at a time so a bad byte is reported at its line.

    Raises:
        ValueError: A line that is not UTF-8, or a .gz file that is not gzip, naming the file (and line).
    """
    opener = gzip.open if path.suffix == ".gz" else open
    line_number = 0
    try:
        with opener(path, "rb") as handle:
            for line_number, raw in enumerate(handle, start=1):
                try:
                    yield line_number, raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise ValueError(
                        f"{path}:{line_number}: not UTF-8 text (byte {raw[error.start : error.start + 1]!r} at "
                        f"column {error.start + 1}); the file must be encoded as UTF-8"
                    ) from None
    except (gzip.BadGzipFile, zlib.error, EOFError) as error:
        where = f"{path}:{line_number + 1}" if line_number else str(path)
        raise ValueError(
            f"{where}: not a readable gzip file ({error}); name it without .gz if it is not compressed"
        ) from None


def iter_jsonl(path: str | Path, what: str = "file") -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line of a .jsonl / .jsonl.gz file.

    Raises:
        FileNotFoundError: No such file (``what`` names it in the message); IsADirectoryError for a folder.
        ValueError: A line that is not UTF-8 or not JSON, or a .gz file that is not gzip, naming file and line.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{what} {path} is a directory; give the .jsonl file inside it")
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    for line_number, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{line_number}: not valid JSON ({error.msg})") from None
        except ValueError as error:  # an integer of more than 4300 digits (sys.get_int_max_str_digits)
            raise ValueError(f"{path}:{line_number}: not readable JSON ({error})") from None
        except RecursionError:
            raise ValueError(f"{path}:{line_number}: not readable JSON (arrays or objects nested too deeply)") from None
        yield line_number, value


def _record_id(record: dict[str, Any], where: str) -> str:
    given = {name: record[name] for name in ID_FIELDS if name in record}
    values = {str(value) for value in given.values()}
    if len(values) > 1:
        raise ValueError(f"{where}: the id fields disagree ({given}); give one id per document")
    if not values:
        raise ValueError(f"{where}: no document id; expected one of the fields {list(ID_FIELDS)}")
    (doc_id,) = values
    if any(isinstance(value, bool) or not isinstance(value, (str, int, float)) for value in given.values()) or (
        not doc_id.strip()
    ):
        raise ValueError(f"{where}: the document id must be a non-empty string or number, got {given}")
    return doc_id


def document_from_record(record: object, where: str) -> Document:
    """A Document from one parsed corpus line; ``where`` ("file:line") prefixes every error."""
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    doc_id = _record_id(record, where)
    text = record.get("text")
    sentences = record.get("sentences")
    if text is None and isinstance(sentences, list) and all(isinstance(s, str) for s in sentences):
        text = " ".join(sentences)
    if not isinstance(text, str):
        raise ValueError(f"{where}: field 'text' must be a string, got {type(text).__name__}")
    title = record.get("title")
    if title is not None and not isinstance(title, str):
        raise ValueError(f"{where}: field 'title' must be a string, got {type(title).__name__}")
    metadata = {key: value for key, value in record.items() if key not in {*ID_FIELDS, "text", "title"}}
    try:
        return Document(id=doc_id, text=text, title=title or None, metadata=metadata)
    except ValidationError as error:
        raise ValueError(f"{where}: {error.errors()[0]['msg'].removeprefix('Value error, ')}") from None


def iter_corpus(path: str | Path) -> Iterator[Document]:
    """Yield documents from a .jsonl or .jsonl.gz file, naming the file and line of any malformed record.
    Duplicate ids are not checked here (see ``load_corpus``)."""
    for line_number, record in iter_jsonl(path, "corpus file"):
        yield document_from_record(record, f"{path}:{line_number}")


def load_corpus(path: str | Path) -> list[Document]:
    """All documents of a corpus file.

    Raises:
        FileNotFoundError: No such file.
        ValueError: A malformed line (naming file and line), a duplicate id, or a file without any document.
    """
    documents: list[Document] = []
    first_line: dict[str, int] = {}
    for line_number, record in iter_jsonl(path, "corpus file"):
        document = document_from_record(record, f"{path}:{line_number}")
        if document.id in first_line:
            raise ValueError(
                f"{path}:{line_number}: duplicate document id {document.id!r} (first on line {first_line[document.id]})"
            )
        first_line[document.id] = line_number
        documents.append(document)
    if not documents:
        raise ValueError(f"corpus file {path} holds no documents")
    return documents
