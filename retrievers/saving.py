"""Crash-safe saving of a retriever: versioned folders behind a pointer file that is replaced atomically.

A save holds ``<directory>/.lock`` (``fcntl.flock``) from start to end, so two saves never interleave, and:

1. checks that ``<directory>`` is missing, empty, or a retriever this program saved (format 1 or 2). Anything
   else (a file, another program's ``manifest.json``, any other non-empty folder) raises FileExistsError and is
   left untouched;
2. removes what killed saves left behind (staging folders, temporary pointer files);
3. writes the files into ``.staging-<id>/``, adds ``manifest.json``, fsyncs every file and folder, renames the
   folder to ``version-<id>/`` and fsyncs ``<directory>``;
4. writes ``.current.json.tmp-<id>``, fsyncs it, ``os.replace``-s it onto ``current.json`` and fsyncs
   ``<directory>``. That replace is the switch: before it the old index is current, after it the new one;
5. removes a format 1 index's top-level files (``manifest.json`` last; ``current.json`` already wins over them),
   then every version folder but the new one and the one ``current.json`` named before the switch (a reader that
   opened it a moment ago may still be reading it).

A process killed at any point leaves the old index or the new one loadable, complete; the next save cleans up.
``save_step`` is called with each name in ``SAVE_STEPS`` so that tests can interrupt a save at every step.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from retrievers.storage import (
    FLAT_VERSIONS,
    FORMAT_NAME,
    FORMAT_VERSION,
    LOCK,
    MANIFEST,
    POINTER,
    VERSION_NAME,
    IndexFormatError,
    Manifest,
    read_manifest_file,
    read_pointer,
    sha256_file,
)

__all__ = ["SAVE_STEPS", "save_directory", "save_step"]

#: The steps of a save, in order. The new index is current from "pointer-replaced" on.
SAVE_STEPS = (
    "locked",
    "staging-created",
    "files-written",
    "manifest-written",
    "files-synced",
    "version-renamed",
    "pointer-written",
    "pointer-replaced",
    "pointer-synced",
    "format-1-files-removed",
    "old-versions-removed",
)
_LEFTOVER = re.compile(r"(\.staging-|\.current\.json\.tmp-)\d{8}T\d{6}-[0-9a-f]{8}")


def save_step(step: str, directory: Path) -> None:
    """Called at each of ``SAVE_STEPS`` with the (resolved) directory being saved into; does nothing.

    Fault-injection tests replace it with a function that raises at a chosen step.
    """


def _reach(step: str, directory: Path) -> None:
    save_step(step, directory)  # looked up at call time, so a replaced hook takes effect


@contextlib.contextmanager
def save_directory(directory: str | Path, kind: str, config: dict[str, Any]) -> Iterator[Path]:
    """Yield an empty folder to write a retriever's files into; when the block succeeds they become the index.

    ``directory`` may be a symlink: the index is saved where it points and the link stays a link.

    Raises:
        FileExistsError: ``directory`` is a file, or a non-empty folder that is not a retriever saved by this
            program; nothing in it is changed.

    Example:
        >>> with save_directory("indexes/demo", "bm25", {...}) as folder:  # doctest: +SKIP
        ...     write_documents(folder / "documents.jsonl", documents)
    """
    shown = Path(directory)
    target = Path(os.path.realpath(shown))
    _check_replaceable(target, shown)
    if not target.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        _fsync_directory(target.parent)
    with _locked(target):
        _check_replaceable(target, shown)  # again: another save may have finished while we waited
        _reach("locked", target)
        _remove_leftovers(target, keep=(), versions=False)
        token = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(4)}"
        staging, version = target / f".staging-{token}", f"version-{token}"
        staging.mkdir()
        try:
            _reach("staging-created", target)
            yield staging
            _reach("files-written", target)
            _write_manifest(staging, kind, config)
            _reach("manifest-written", target)
            _fsync_tree(staging)
            _reach("files-synced", target)
            os.replace(staging, target / version)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _fsync_directory(target)
        _reach("version-renamed", target)
        previous = read_pointer(target) if os.path.lexists(target / POINTER) else None
        _switch_pointer(target, version, token)
        _remove_format_1(target)
        _reach("format-1-files-removed", target)
        _remove_leftovers(target, keep=(version, previous), versions=True)
        _reach("old-versions-removed", target)


def _check_replaceable(target: Path, shown: Path) -> None:
    """FileExistsError unless ``target`` is missing, empty, or a retriever this program saved (or was saving)."""
    if not os.path.lexists(target):
        return
    refuse = f"cannot save a retriever to {shown}: it"
    if not target.is_dir():
        raise FileExistsError(f"{refuse} exists and is not a directory; it was left untouched")
    names = set(os.listdir(target))
    if POINTER in names:
        try:
            read_pointer(target)
        except IndexFormatError as error:
            raise FileExistsError(f"{refuse} has a damaged {POINTER}; it was left untouched ({error})") from error
    elif MANIFEST in names:
        try:
            read_manifest_file(target / MANIFEST, FLAT_VERSIONS)
        except IndexFormatError as error:
            raise FileExistsError(
                f"{refuse} holds a {MANIFEST} that is not a saved retriever's (another program's files?); "
                f"it was left untouched ({error})"
            ) from error
    elif names and not (LOCK in names and all(_is_ours(name) for name in names)):
        raise FileExistsError(f"{refuse} is a non-empty directory that is not a saved retriever; it was left untouched")


def _is_ours(name: str) -> bool:
    return name == LOCK or bool(_LEFTOVER.fullmatch(name) or VERSION_NAME.fullmatch(name))


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    descriptor = os.open(target / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _write_manifest(staging: Path, kind: str, config: dict[str, Any]) -> None:
    files = {
        path.relative_to(staging).as_posix(): {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
        for path in sorted(staging.rglob("*"))
        if path.is_file() and path.name != LOCK
    }
    manifest = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "kind": kind, "config": config, "files": files}
    Manifest.model_validate(manifest)  # never write what cannot be read back
    text = json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"cannot save a {kind!r} retriever: its settings hold an unpaired surrogate "
            f"{text[error.start]!r} ({text[max(0, error.start - 40) : error.start + 1]!r}); use valid Unicode"
        ) from None
    (staging / MANIFEST).write_bytes(data)


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root, topdown=False):
        for name in files:
            descriptor = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        _fsync_directory(Path(folder))


def _switch_pointer(target: Path, version: str, token: str) -> None:
    temporary = target / f".current.json.tmp-{token}"
    pointer = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "version": version}
    with open(temporary, "x", encoding="utf-8") as handle:
        handle.write(json.dumps(pointer) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    _reach("pointer-written", target)
    os.replace(temporary, target / POINTER)
    _reach("pointer-replaced", target)
    _fsync_directory(target)
    _reach("pointer-synced", target)


def _remove_format_1(target: Path) -> None:
    """Delete the files a manifest at the top (format 1) lists (never anything outside ``target``), then it."""
    path = target / MANIFEST
    if not os.path.lexists(path):
        return
    try:
        manifest = read_manifest_file(path, FLAT_VERSIONS)
    except IndexFormatError:
        return  # not a format 1 index of ours: not ours to delete
    root = os.path.realpath(target)
    folders: set[Path] = set()
    for name in manifest.files:
        file = target / name
        if _is_ours(name.split("/")[0]) or name.split("/")[0] in {POINTER, MANIFEST}:
            continue
        if os.path.commonpath([root, os.path.realpath(file.parent)]) != root:
            continue
        with contextlib.suppress(FileNotFoundError):
            file.unlink()
        folders.update(parent for parent in file.relative_to(target).parents if parent != Path("."))
    for folder in sorted(folders, key=lambda relative: len(relative.parts), reverse=True):
        with contextlib.suppress(OSError):
            (target / folder).rmdir()  # only when empty: files nobody listed stay
    path.unlink()
    _fsync_directory(target)


def _remove_leftovers(target: Path, keep: tuple[str | None, ...], versions: bool) -> None:
    """Delete staging folders and temporary pointers of killed saves, and (``versions``) unkept version folders."""
    for name in os.listdir(target):
        if name in keep or not (_LEFTOVER.fullmatch(name) or (versions and VERSION_NAME.fullmatch(name))):
            continue
        path = target / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
