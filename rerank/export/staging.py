"""Where an export is built and how it replaces an earlier one, without ever losing data.

An export is built and verified in a hidden staging sibling of its destination, then renamed into place. With
``overwrite``, only a directory an earlier export wrote (rerank.export.manifest.is_export_directory) is replaced, and
only once the new one is complete and verified: the old directory is renamed aside, the new one renamed in, and the
old one deleted last. Anything else in the way (another tool's folder, a retriever index, a file) raises
FileExistsError and is left untouched.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from rerank.export.manifest import FORMAT_NAME, is_export_directory

__all__ = ["check_destination", "move_into_place", "staging_directory"]


def _is_free(out: Path) -> bool:
    if not out.exists() and not out.is_symlink():
        return True
    return out.is_dir() and not out.is_symlink() and not any(out.iterdir())


def check_destination(out: Path, overwrite: bool) -> None:
    """Raise unless ``out`` is free (absent or an empty directory) or, with ``overwrite``, an earlier export.

    Raises:
        FileExistsError: ``out`` holds something, and either overwrite is off or it is not an export's directory.
    """
    if _is_free(out):
        parent = next((p for p in out.parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            raise FileExistsError(f"cannot export to {out}: {parent} is a file, not a directory")
        return
    if not overwrite:
        raise FileExistsError(
            f"{out} already exists and is not empty; choose another --out or pass --overwrite (overwrite=True)"
        )
    if not is_export_directory(out):
        raise FileExistsError(
            f"refusing to overwrite {out}: it was not written by `rerank export` (no manifest.json with "
            f"format_name {FORMAT_NAME!r}), so it was left untouched; remove it yourself or choose another --out"
        )


@contextlib.contextmanager
def staging_directory(out: Path) -> Iterator[Path]:
    """A new hidden directory beside ``out`` (same file system, so the final move is a rename), removed on exit."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.staging-"))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def move_into_place(built: Path, out: Path, overwrite: bool) -> None:
    """Rename the complete, verified ``built`` directory to ``out``, replacing an earlier export there.

    Raises:
        FileExistsError: ``out`` changed meanwhile into something check_destination refuses.
    """
    check_destination(out, overwrite)
    if _is_free(out):
        if out.is_dir():
            out.rmdir()
        try:
            built.rename(out)
        except OSError as error:  # something appeared at ``out`` since the check
            raise FileExistsError(f"{out} appeared while exporting; the new export was discarded") from error
        return
    holder = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.replaced-"))
    aside = holder / out.name
    out.rename(aside)
    try:
        built.rename(out)
    except BaseException:
        aside.rename(out)  # the old export goes back where it was
        shutil.rmtree(holder, ignore_errors=True)
        raise
    shutil.rmtree(holder, ignore_errors=True)
