"""Pre-converted graphs shipped beside a model's weights, in the sentence-transformers layout, and where to get them.

Hub repos such as cross-encoder/nli-deberta-v3-small hold, next to ``model.safetensors``, files such as::

    onnx/model.onnx                         fp32
    onnx/model_O1.onnx .. model_O3.onnx     fp32, graph-optimised for onnxruntime (O3 approximates GELU)
    onnx/model_O4.onnx                      fp16, for GPUs
    onnx/model_qint8_avx512_vnni.onnx       int8, dynamically quantized for one instruction set
    onnx/model_qint8_avx512.onnx, onnx/model_quint8_avx2.onnx, onnx/model_qint8_arm64.onnx
    openvino/openvino_model.xml (+ .bin)    fp32 OpenVINO IR
    openvino/openvino_model_qint8_quantized.xml (+ .bin)   int8, statically quantized

This module names what a listing holds (``graphs``), lists a directory or a hub repo without downloading anything
(``local_files``, ``hub_files``), and downloads chosen files (``fetch_hub_files``). Which graph to run is decided by
rerank.loading; this module only reads names.

Example:
    >>> [g.name for g in graphs(["config.json", "onnx/model.onnx", "onnx/model_O4.onnx"])]
    ['onnx/model.onnx', 'onnx/model_O4.onnx']
    >>> graphs(["onnx/model_qint8_avx512_vnni.onnx"])[0].precision
    'int8'
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from rerank.backends import files

__all__ = ["GraphFile", "companions", "fetch_hub_files", "graphs", "hub_files", "local_files", "metadata_files"]

logger = logging.getLogger(__name__)

SUBFOLDERS = ("onnx", "openvino")
LIST_TIMEOUT = 10.0  # seconds to wait for the hub's file list before using the local cache
_ONNX = re.compile(r"(?:onnx/)?model(?:_(?P<variant>[A-Za-z0-9_]+))?\.onnx")
_OPENVINO = re.compile(r"(?:openvino/)?openvino_model(?:_(?P<variant>[A-Za-z0-9_]+))?\.xml")
_OPTIMISED = re.compile(r"O[1-4]")
METADATA_FILES = ("config.json", *files.TOKENIZER_FILES, "special_tokens_map.json", "added_tokens.json",
                  "vocab.json", "merges.txt", "tokenizer.model")  # fmt: skip


@dataclass(frozen=True)
class GraphFile:
    """One graph file of a listing.

    Attributes:
        name: Path relative to the model root, with "/" ("onnx/model_qint8_avx512.onnx").
        format: "onnx" or "openvino".
        precision: "fp32", "fp16" or "int8", as the layout's file names say.
        variant: "" for the plain file, "O1".."O4" for optimisation levels, the quantization name for int8 files
            ("qint8_avx512_vnni", "qint8_quantized", ...).
    """

    name: str
    format: str
    precision: str
    variant: str

    @property
    def in_subfolder(self) -> bool:
        """True for the sentence-transformers layout (onnx/..., openvino/...), False for a root-level graph."""
        return "/" in self.name


def _classify(name: str) -> GraphFile | None:
    if match := _ONNX.fullmatch(name):
        variant = match["variant"] or ""
        if variant == "" or variant in {"O1", "O2", "O3"}:
            return GraphFile(name, "onnx", "fp32", variant)
        if variant in {"O4", "fp16"}:
            return GraphFile(name, "onnx", "fp16", variant)
        if re.fullmatch(r"q?u?int8_[a-z0-9_]+", variant):
            return GraphFile(name, "onnx", "int8", variant)
        return None  # another quantization (bnb4, ...) that nothing here runs
    if match := _OPENVINO.fullmatch(name):
        variant = match["variant"] or ""
        if variant == "":
            return GraphFile(name, "openvino", "fp32", "")
        return GraphFile(name, "openvino", "int8", variant) if "int8" in variant else None
    return None


def graphs(names: Iterable[str]) -> list[GraphFile]:
    """The graph files among ``names`` (paths relative to a model root), in the order given."""
    found = (_classify(name.replace(os.sep, "/")) for name in names)
    return [graph for graph in found if graph is not None]


def companions(graph: GraphFile, names: Collection[str]) -> list[str]:
    """The files that must come with ``graph``: an IR's .bin, an ONNX graph's external data."""
    if graph.format == "openvino":
        wanted = [graph.name[: -len(".xml")] + ".bin"]
    else:
        wanted = [graph.name + "_data", graph.name + ".data"]
    return [name for name in wanted if name in names]


def metadata_files(names: Collection[str]) -> list[str]:
    """config.json and the tokenizer files at the root of a listing (what a graph needs beside it)."""
    return [name for name in METADATA_FILES if name in names]


def local_files(directory: str | Path) -> list[str]:
    """Files at the root of a model directory and in its onnx/ and openvino/ folders, relative, with "/"."""
    root = Path(directory).expanduser()
    found = [path.name for path in sorted(root.iterdir()) if path.is_file()]
    for folder in SUBFOLDERS:
        if (root / folder).is_dir():
            found += [f"{folder}/{path.name}" for path in sorted((root / folder).iterdir()) if path.is_file()]
    return found


def _hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _snapshot(repo_id: str) -> Path | None:
    """The local snapshot ``refs/main`` names in the Hugging Face cache, or None."""
    from huggingface_hub import constants
    from huggingface_hub.file_download import repo_folder_name

    folder = Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=repo_id, repo_type="model")
    try:
        commit = (folder / "refs" / "main").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    snapshot = folder / "snapshots" / commit
    return snapshot if commit and snapshot.is_dir() else None


def hub_files(repo_id: str) -> tuple[list[str], str]:
    """The files of hub repo ``repo_id`` and where the list came from: ("hub") the hub's file list
    (``huggingface_hub.model_info``), or, offline or when the hub cannot be reached, ("cache") the files of the
    local snapshot; ([], "none") when neither has it.

    Nothing is downloaded.
    """
    try:
        import huggingface_hub
    except ImportError:
        return [], "none"
    if not _hub_offline():
        try:  # one request, no retries (list_repo_files backs off for ~20 s when there is no network)
            info = huggingface_hub.model_info(repo_id, timeout=LIST_TIMEOUT)
            return [sibling.rfilename for sibling in info.siblings or ()], "hub"
        except Exception as error:  # no network, unknown repo, gated repo: fall back to what is cached
            logger.info("could not list %r on the hub (%s); looking in the local cache", repo_id, error)
    snapshot = _snapshot(repo_id)
    if snapshot is None:
        return [], "none"
    return local_files(snapshot), "cache"


def fetch_hub_files(repo_id: str, names: Iterable[str]) -> dict[str, Path]:
    """Download ``names`` of hub repo ``repo_id`` (or take them from the cache when offline): local paths by name.

    Raises:
        ModelLoadError: A file could not be downloaded or found in the cache.
    """
    import huggingface_hub

    found: dict[str, Path] = {}
    for name in names:
        try:
            found[name] = Path(huggingface_hub.hf_hub_download(repo_id, name))
        except Exception as error:  # network errors, missing files, offline cache misses
            raise files.model_not_found(f"{repo_id}/{name}", f"{type(error).__name__}: {error}") from error
    return found
