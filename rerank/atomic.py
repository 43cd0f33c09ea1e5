"""Atomic file writes: a reader, or a process killed mid-write, sees the old file or the new one, never a torn one.

The text goes to a temporary file in the same directory, is flushed and fsynced, and replaces the target with
``os.replace`` (atomic on POSIX), after which the directory is fsynced so the rename itself survives a crash. A
symlink at the target is written through (the link stays a link). The new file's mode follows the umask.

Example:
    >>> write_text_atomic("results/report.json", "{}\\n")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["fsync_directory", "write_bytes_atomic", "write_text_atomic"]


def fsync_directory(directory: str | Path) -> None:
    """Flush a directory entry change (a rename, a new file) to disk; a no-op where directories cannot be opened."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically (creating missing parent folders); returns the path written.

    Raises:
        IsADirectoryError: ``path`` is a directory.
    """
    target = Path(path)
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    if target.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a directory; give a file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _umask_mode())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    fsync_directory(target.parent)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """``write_bytes_atomic`` of ``text`` encoded as UTF-8."""
    return write_bytes_atomic(path, text.encode("utf-8"))
