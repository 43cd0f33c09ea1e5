"""Model identity for cache keys: a hash of the bytes that define a model, or the commit of a hub snapshot.

A directory's fingerprint hashes the content (and relative names) of the files that define the model: the weights
(or the graph and its external data), config.json and the tokenizer files. Other files, manifest.json and timestamps
do not count, so two copies of a model share a fingerprint and retraining in place (same names and sizes, new bytes)
changes it.

Reading gigabytes on every load is avoided by a memo of per-file SHA-256 digests keyed by (absolute path, size,
mtime_ns, inode): in memory, and in ``fingerprints.json`` in the export cache directory (written atomically; a
damaged file is ignored and rewritten). As in git's index, a digest taken within ``RACY_NS`` of the file's mtime is
not trusted later (a coarse file-system clock could leave the mtime of a rewrite unchanged): such a file is read
again until its digest is older than its last change.

A hub id resolves to the commit of its local snapshot, ``hub:org/name@<40 hex>``.

Example:
    >>> from rerank.backends.fingerprint import weights_fingerprint
    >>> weights_fingerprint("path/to/nli-model")  # doctest: +SKIP
    '3f1c0b6e9a2d4c5e8f7a6b5c4d3e2f10'
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rerank.backends import files

__all__ = ["MEMO_FILE", "clear_memo", "graph_fingerprint", "hub_fingerprint", "weights_fingerprint"]

logger = logging.getLogger(__name__)

MEMO_FILE = "fingerprints.json"
RACY_NS = 2_000_000_000  # a digest is trusted only for a file last changed this long before it was taken
_CHUNK = 1 << 20
_COMMIT = re.compile(r"[0-9a-f]{40}")
TOKENIZER_NAMES = frozenset(files.TOKENIZER_FILES) | {
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
}

_memo: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


def clear_memo() -> None:
    """Forget the in-process digests (the persistent memo file is kept)."""
    with _lock:
        _memo.clear()


def _is_config_or_tokenizer(name: str) -> bool:
    return name == "config.json" or name in TOKENIZER_NAMES or name.startswith("tokenizer") or name.endswith(".model")


def _is_weights(name: str) -> bool:
    return (
        name.endswith((".safetensors", ".safetensors.index.json", ".bin.index.json"))
        or (name.startswith("pytorch_model") and name.endswith(".bin"))
        or name in files.HF_WEIGHT_FILES
    )


def _regular_files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.iterdir() if path.is_file()) if directory.is_dir() else []


def weights_fingerprint(directory: str | Path) -> str:
    """Content fingerprint of a directory of PyTorch/SafeTensors weights: weights, config.json and tokenizer files.

    Raises:
        OSError: A file cannot be read.
    """
    directory = Path(directory).expanduser()
    chosen = [
        path for path in _regular_files(directory) if _is_weights(path.name) or _is_config_or_tokenizer(path.name)
    ]
    return _combine(directory, chosen)


def graph_fingerprint(graph: str | Path) -> str:
    """Content fingerprint of an ONNX or OpenVINO graph: the graph file, its weights / external data, and the
    config.json and tokenizer files of the directory holding it (rerank.backends.files.model_directory).

    Raises:
        OSError: A file cannot be read.
    """
    graph = Path(graph).expanduser()
    chosen = {graph}
    for path in _regular_files(graph.parent):
        name = path.name
        companion = name.startswith(graph.name) or name in {f"{graph.stem}.bin", f"{graph.stem}.data"}
        if companion or name.endswith(".data"):
            chosen.add(path)
    directory = files.model_directory(graph)
    chosen.update(path for path in _regular_files(directory) if _is_config_or_tokenizer(path.name))
    return _combine(directory, sorted(chosen))


def hub_fingerprint(repo_id: str) -> str | None:
    """``hub:<repo_id>@<commit>`` for a hub id whose snapshot is in the local Hugging Face cache, None when it is not.

    The snapshot is the one ``refs/main`` names (what transformers loads by default). When its folder name is not a
    commit, the snapshot's content is hashed instead.
    """
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        found = try_to_load_from_cache(repo_id, "config.json")
    except Exception as error:  # an id the hub client rejects (HFValidationError) is simply not in the cache
        logger.debug("no hub snapshot for %r: %s", repo_id, error)
        return None
    if not isinstance(found, str):
        return None
    snapshot = Path(found).parent
    if snapshot.parent.name == "snapshots" and _COMMIT.fullmatch(snapshot.name):
        return f"hub:{repo_id}@{snapshot.name}"
    return f"hub:{repo_id}@{weights_fingerprint(snapshot)}"


def _combine(root: Path, paths: list[Path]) -> str:
    """SHA-256 over (path relative to root, content digest) of each file, first 32 hex digits."""
    digests = _digests(paths)
    entries = [[os.path.relpath(path, root).replace(os.sep, "/"), digests[path]] for path in paths]
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()[:32]


def _stat_key(path: Path) -> tuple[str, dict[str, int]]:
    stat = path.stat()
    return os.path.abspath(path), {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}


def _trusted(entry: dict[str, Any] | None, stat: dict[str, int]) -> bool:
    return (
        entry is not None
        and all(entry.get(name) == value for name, value in stat.items())
        and entry.get("hashed_ns", 0) - stat["mtime_ns"] > RACY_NS
    )


def _digests(paths: list[Path]) -> dict[Path, str]:
    """Content digest of each file, from the memo where its entry still matches, else read (and memoised)."""
    stats = {path: _stat_key(path) for path in paths}
    with _lock:
        missing = [path for path, (key, stat) in stats.items() if not _trusted(_memo.get(key), stat)]
    if missing:
        stored = _read_memo()
        with _lock:
            for path in missing:
                key, stat = stats[path]
                if _trusted(stored.get(key), stat) and not _trusted(_memo.get(key), stat):
                    _memo[key] = stored[key]
            missing = [path for path, (key, stat) in stats.items() if not _trusted(_memo.get(key), stat)]
    computed: dict[str, dict[str, Any]] = {}
    for path in missing:
        key, stat = stats[path]
        hashed_ns = time.time_ns()
        digest = _hash_file(path)
        if _stat_key(path)[1] == stat:  # unchanged while it was read
            computed[key] = {**stat, "hashed_ns": hashed_ns, "sha256": digest}
        else:
            computed[key] = {"size": -1, "sha256": digest}  # used for this call, never trusted later
    with _lock:
        _memo.update(computed)
        result = {path: _memo[key]["sha256"] for path, (key, _) in stats.items()}
    if computed:
        _write_memo({key: entry for key, entry in computed.items() if entry["size"] >= 0})
    return result


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _memo_path() -> Path:
    return files.export_cache_dir() / MEMO_FILE


def _valid_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and all(isinstance(entry.get(name), int) for name in ("size", "mtime_ns", "inode", "hashed_ns"))
        and isinstance(entry.get("sha256"), str)
    )


def _read_memo() -> dict[str, dict[str, Any]]:
    """The persistent memo; {} when it is absent or damaged (a damaged file is rewritten at the next write)."""
    path = _memo_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        logger.warning("ignoring the damaged fingerprint memo %s (%s); it will be rewritten", path, error)
        return {}
    if not isinstance(data, dict):
        logger.warning("ignoring the damaged fingerprint memo %s; it will be rewritten", path)
        return {}
    return {key: entry for key, entry in data.items() if isinstance(key, str) and _valid_entry(entry)}


def _write_memo(new: dict[str, dict[str, Any]]) -> None:
    """Merge ``new`` into the persistent memo, drop entries of files that are gone, and replace it atomically."""
    if not new:
        return
    path = _memo_path()
    merged = {key: entry for key, entry in _read_memo().items() if os.path.exists(key)}
    merged.update(new)
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{MEMO_FILE}.", delete=False) as handle:
            temporary = handle.name
            json.dump(merged, handle, sort_keys=True)
        os.replace(temporary, path)
    except OSError as error:  # a read-only cache only costs re-reading the weights next time
        logger.debug("could not write the fingerprint memo %s: %s", path, error)
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
