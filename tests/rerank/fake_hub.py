"""A fake Hugging Face hub cache on disk, for loading models by hub id offline.

It lays out what ``huggingface_hub`` writes when it downloads a repo: ``models--org--name/blobs/<digest>`` holding
the file contents, ``snapshots/<commit>/<file>`` symlinks to them, and ``refs/<branch>`` naming the commit. Point
``HF_HUB_CACHE`` at the directory and set ``HF_HUB_OFFLINE=1`` in the process that loads (huggingface_hub reads
``HF_HUB_CACHE`` when it is first imported, so use a subprocess or set it before anything imports it).

Example:
    >>> commit = add_snapshot(tmp_path / "hub", "fake-org/tiny-nli", tiny_deberta_dir)  # doctest: +SKIP
    >>> hub_env(tmp_path / "hub")  # doctest: +SKIP
    {..., 'HF_HUB_CACHE': '/tmp/.../hub', 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1'}
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

__all__ = ["add_file", "add_snapshot", "fake_commit", "hub_env", "repo_folder", "set_ref"]


def fake_commit(label: str) -> str:
    """A stable 40-hex commit id for ``label``."""
    return hashlib.sha1(label.encode()).hexdigest()


def repo_folder(cache_dir: Path, repo_id: str) -> Path:
    """``cache_dir/models--org--name``, as huggingface_hub names a model repo's cache folder."""
    return Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))


def set_ref(cache_dir: Path, repo_id: str, commit: str, ref: str = "main") -> None:
    """Point ``refs/<ref>`` of the repo at ``commit`` (what a later download of a new revision does)."""
    refs = repo_folder(cache_dir, repo_id) / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    (refs / ref).write_text(commit)


def add_snapshot(cache_dir: Path, repo_id: str, model_dir: Path, commit: str | None = None, ref: str = "main") -> str:
    """Copy the files of ``model_dir`` (subfolders such as onnx/ and openvino/ included) into the repo's cache as
    snapshot ``commit`` and point ``ref`` at it.

    Returns:
        The commit (``fake_commit(str(model_dir))`` when none is given).
    """
    commit = commit or fake_commit(str(model_dir))
    folder = repo_folder(cache_dir, repo_id)
    blobs, snapshot = folder / "blobs", folder / "snapshots" / commit
    blobs.mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for path in sorted(Path(model_dir).rglob("*")):
        if path.is_file():
            add_file(cache_dir, repo_id, commit, path.relative_to(model_dir).as_posix(), path)
    set_ref(cache_dir, repo_id, commit, ref)
    return commit


def add_file(cache_dir: Path, repo_id: str, commit: str, name: str, source: Path) -> Path:
    """Put ``source`` into snapshot ``commit`` as ``name`` (a path in the repo such as "onnx/model.onnx"), stored
    as a blob and linked, as huggingface_hub does; returns the snapshot path."""
    folder = repo_folder(cache_dir, repo_id)
    blobs = folder / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    blob = blobs / hashlib.sha256(Path(source).read_bytes()).hexdigest()
    if not blob.exists():
        shutil.copyfile(source, blob)
    link = folder / "snapshots" / commit / name
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.exists() or link.is_symlink():
        link.unlink()
    link.symlink_to(os.path.relpath(blob, link.parent))
    return link


def hub_env(cache_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment with the fake cache as HF_HUB_CACHE and the hub offline (for a subprocess)."""
    env = {**os.environ, "HF_HUB_CACHE": str(cache_dir), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("HF_HOME", None)
    env.update(extra)
    return env
