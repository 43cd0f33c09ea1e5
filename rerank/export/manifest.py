"""manifest.json of an export: what was made, from what, how, with which package versions, and its check.

New manifests carry ``"format_name": "nli-rerank-export"``; older ones written by ``rerank export`` are recognised
by their "exporter" and "verification" keys. Only a directory whose manifest is recognised may be replaced by
``export_model(..., overwrite=True)``.
"""

from __future__ import annotations

import contextlib
import datetime
import json
from importlib import metadata
from pathlib import Path
from typing import Any

from rerank.backends import files

__all__ = ["FORMAT_NAME", "VERSIONED_PACKAGES", "is_export_directory", "is_export_manifest", "package_versions",
           "write_manifest"]  # fmt: skip

FORMAT_NAME = "nli-rerank-export"
VERSIONED_PACKAGES = ("nli-rerank", "torch", "transformers", "onnx", "onnxscript", "onnxruntime", "openvino", "nncf")


def package_versions(*packages: str) -> dict[str, str]:
    """Installed versions of ``packages`` (VERSIONED_PACKAGES by default); absent packages are left out."""
    found = {}
    for package in packages or VERSIONED_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[package] = metadata.version(package)
    return found


def is_export_manifest(manifest: Any) -> bool:
    """True for a manifest written by this project's export (marked, or an older one with exporter + verification)."""
    if not isinstance(manifest, dict):
        return False
    return manifest.get("format_name") == FORMAT_NAME or ("exporter" in manifest and "verification" in manifest)


def is_export_directory(path: Path) -> bool:
    """True for a directory whose manifest.json was written by this project's export."""
    return path.is_dir() and is_export_manifest(files.read_manifest(path))


def created_now() -> str:
    """The "created" timestamp: UTC, to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest`` (marked with FORMAT_NAME) to ``directory``/manifest.json."""
    content = {"format_name": FORMAT_NAME, **manifest}
    text = json.dumps(content, indent=2, ensure_ascii=False) + "\n"
    (directory / "manifest.json").write_text(text, encoding="utf-8")
