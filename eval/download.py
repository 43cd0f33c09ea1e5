"""Find a BEIR dataset: a local folder, or a BEIR name fetched once from the official zip into a cache.

The download is streamed to a temporary file with a progress bar, checked (a real zip, no member outside its
folder, the BEIR files present) and extracted into a staging folder that is renamed into place only when complete,
so an interrupted or corrupt download never leaves a half-written dataset that a later run would trust.

The archive is checked against a checksum before it is opened: the MD5 BEIR publishes for its official archives, or,
for a mirror or a name BEIR does not list, the SHA-256 recorded in ``cache_dir/checksums.json`` at the first download
(trust on first use), so a later download that differs is refused. With ``HF_HUB_OFFLINE`` or ``NLI_RERANK_OFFLINE``
set to a true value nothing is downloaded: a dataset already in the cache is used, any other name is an error.

Example:
    >>> folder = resolve_dataset("scifact")  # doctest: +SKIP  (downloads once, then reads the cache)
    >>> data = load_beir(folder)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

__all__ = [
    "BEIR_MD5",
    "BEIR_URL",
    "CHECKSUMS_FILE",
    "DEFAULT_DATA_CACHE",
    "OFFLINE_ENVS",
    "URL_ENV",
    "download_beir",
    "resolve_dataset",
]

BEIR_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/{name}.zip"
# A mirror for users who cannot reach the official host: a URL template with {name}.
URL_ENV = "NLI_RERANK_BEIR_URL"
# Set to 1/true/yes/on, either one forbids downloads (HF_HUB_OFFLINE is what the test suite and offline users set).
OFFLINE_ENVS = ("HF_HUB_OFFLINE", "NLI_RERANK_OFFLINE")
DEFAULT_DATA_CACHE = Path("~/.cache/nli-rerank/beir")
# In the cache folder: {name: {"sha256": ..., "url": ...}} for archives without a published checksum.
CHECKSUMS_FILE = "checksums.json"
REQUIRED_FILES = ("queries.jsonl", "qrels")
CHUNK_BYTES = 1 << 20

# The MD5 of each archive on the official host (BEIR_URL), as BEIR publishes them: the "md5" column of the dataset
# table in the BEIR README (https://github.com/beir-cellar/beir#beers-available-datasets), also on the wiki page
# https://github.com/beir-cellar/beir/wiki/Datasets-available. A mirror may repackage, so it is not held to these.
BEIR_MD5 = {
    "msmarco": "444067daf65d982533ea17ebd59501e4",
    "trec-covid": "ce62140cb23feb9becf6270d0d1fe6d1",
    "nfcorpus": "a89dba18a62ef92f7d323ec890a0d38d",
    "nq": "d4d3d2e48787a744b6f6e691ff534307",
    "hotpotqa": "f412724f78b0d91183a0e86805e16114",
    "fiqa": "17918ed23cd04fb15047f73e6c3bd9d9",
    "arguana": "8ad3e3c2a5867cdced806d6503f29b99",
    "webis-touche2020": "46f650ba5a527fc69e0a6521c5a23563",
    "cqadupstack": "4e41456d7df8ee7760a7f866133bda78",
    "quora": "18fb154900ba42a600f84b839c173167",
    "dbpedia-entity": "c2a39eb420a3164af735795df012ac2c",
    "scidocs": "38121350fc3a4d2f48850f6aff52e4a9",
    "fever": "5a818580227bfb4b35bb6fa46d9b6c03",
    "climate-fever": "8b66f0a9126c521bae2bde127b4dc99d",
    "scifact": "5f7d1de60b170fc8027bb7898e2efca1",
}


def resolve_dataset(
    dataset: str | Path,
    cache_dir: str | Path = DEFAULT_DATA_CACHE,
    *,
    url_template: str | None = None,
    show_progress: bool = True,
) -> Path:
    """A BEIR folder for ``dataset``: the path itself when it is a folder, else a BEIR dataset name ("scifact")
    looked up in ``cache_dir`` and, when absent there, downloaded once (see ``download_beir``). A dataset already in
    the cache is used as is, also offline.

    Raises:
        FileNotFoundError: Neither a folder nor a downloadable name (the message names the URL tried), or a name not
            in the cache while offline mode is on.
        ValueError: The download does not match its checksum (see ``download_beir``).
    """
    path = Path(dataset).expanduser()
    if path.is_dir():
        return path
    name = str(dataset)
    if not _is_dataset_name(name):
        raise FileNotFoundError(f"dataset folder not found: {path} (expected corpus.jsonl, queries.jsonl, qrels/)")
    target = Path(cache_dir).expanduser() / name
    if target.is_dir():
        return target
    return download_beir(name, cache_dir, url_template=url_template, show_progress=show_progress)


def download_beir(
    name: str,
    cache_dir: str | Path = DEFAULT_DATA_CACHE,
    *,
    url_template: str | None = None,
    show_progress: bool = True,
) -> Path:
    """Download the BEIR zip of ``name`` and extract it to ``cache_dir/name``; returns that folder.

    From the official host the archive must match the MD5 BEIR publishes (``BEIR_MD5``). From a mirror, or for a
    name BEIR does not list, the SHA-256 of the first archive is recorded in ``cache_dir/checksums.json`` and every
    later download of that name must match it.

    Args:
        url_template: Where to fetch from, with ``{name}``; default ``$NLI_RERANK_BEIR_URL`` or the official host.

    Raises:
        FileNotFoundError: Offline mode is on (``HF_HUB_OFFLINE`` or ``NLI_RERANK_OFFLINE``), the download failed or
            the archive is not a BEIR dataset (nothing is left in the cache).
        ValueError: ``name`` is not a plain name, the archive does not match its checksum, or it holds a path outside
            its folder (nothing is extracted).
    """
    if not _is_dataset_name(name):
        raise ValueError(f"{name!r} is not a BEIR dataset name (letters, digits, '-' and '_' only)")
    cache = Path(cache_dir).expanduser()
    _refuse_when_offline(name, cache)
    template = url_template or os.environ.get(URL_ENV) or BEIR_URL
    url = template.format(name=name)
    published_md5 = BEIR_MD5.get(name) if template == BEIR_URL else None
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=f".{name}-download-") as scratch:
        archive_path = Path(scratch) / f"{name}.zip"
        try:
            md5, sha256 = _fetch(url, archive_path, f"downloading {name}", show_progress)
        except OSError as error:
            raise _download_failed(name, url, error) from error
        if published_md5 is not None and md5 != published_md5:
            raise ValueError(
                f"{url} has MD5 {md5}, not the {published_md5} BEIR publishes for {name!r}: the download is corrupt "
                "or was altered; nothing was kept, try again later or pass the path of a BEIR folder"
            )
        recorded = _read_checksums(cache).get(name) if published_md5 is None else None
        if recorded is not None and sha256 != recorded["sha256"]:
            raise ValueError(
                f"{url} has SHA-256 {sha256}, not the {recorded['sha256']} recorded for {name!r} at its first "
                f"download (from {recorded.get('url', 'an unrecorded URL')}) in {cache / CHECKSUMS_FILE}; nothing "
                f"was kept. If the archive changed on purpose, remove the {name!r} entry from that file and download "
                "again"
            )
        try:
            archive = zipfile.ZipFile(archive_path)
        except (OSError, zipfile.BadZipFile) as error:
            raise _download_failed(name, url, error) from error
        with archive:
            staging = Path(scratch) / "extracted"
            _check_members(archive, url)
            archive.extractall(staging)
        extracted = staging / name
        missing = [f for f in REQUIRED_FILES if not (extracted / f).exists()]
        if not extracted.is_dir() or missing or not any(extracted.glob("corpus.jsonl*")):
            raise FileNotFoundError(
                f"{url} is not a BEIR dataset archive: expected a folder {name!r} with corpus.jsonl, queries.jsonl "
                "and qrels/"
            )
        target = cache / name
        try:
            os.replace(extracted, target)  # atomic on one file system
        except OSError:
            if not target.is_dir():  # else another process finished the same download first: use its folder
                raise
    if published_md5 is None and recorded is None:
        _record_checksum(cache, name, {"sha256": sha256, "url": url})
    return target


def _offline_variables() -> list[str]:
    """Those of ``OFFLINE_ENVS`` set to a true value (1, true, yes or on, in any case)."""
    return [v for v in OFFLINE_ENVS if os.environ.get(v, "").strip().lower() in {"1", "true", "yes", "on"}]


def _refuse_when_offline(name: str, cache: Path) -> None:
    if variables := _offline_variables():
        settings = ", ".join(f"{v}={os.environ[v]}" for v in variables)
        raise FileNotFoundError(
            f"dataset {name!r} is not in the cache ({cache / name}) and offline mode ({settings}) forbids downloading "
            f"it: unset {' and '.join(variables)} to download it once, or pass the path of a local BEIR folder"
        )


def _fetch(url: str, destination: Path, description: str, show_progress: bool) -> tuple[str, str]:
    """Stream ``url`` to ``destination`` with a progress bar; returns the MD5 and SHA-256 of what was written."""
    import urllib.request

    from tqdm.auto import tqdm

    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with urllib.request.urlopen(url, timeout=60) as response, destination.open("wb") as handle:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=description, disable=not show_progress,
                  leave=False) as progress:  # fmt: skip
            while chunk := response.read(CHUNK_BYTES):
                handle.write(chunk)
                md5.update(chunk)
                sha256.update(chunk)
                progress.update(len(chunk))
    return md5.hexdigest(), sha256.hexdigest()


def _download_failed(name: str, url: str, error: Exception) -> FileNotFoundError:
    return FileNotFoundError(
        f"dataset {name!r} is not a local folder and could not be downloaded from {url} ({error}); "
        "pass the path of a BEIR folder instead"
    )


def _read_checksums(cache: Path) -> dict[str, dict[str, str]]:
    path = cache / CHECKSUMS_FILE
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise ValueError(
            f"cannot read the recorded BEIR checksums {path} ({error}); delete the file to start over"
        ) from error
    if not isinstance(records, dict) or not all(isinstance(r, dict) and "sha256" in r for r in records.values()):
        raise ValueError(f"{path} is not a checksum record ({{name: {{'sha256': ..., 'url': ...}}}}); delete it")
    return records


def _record_checksum(cache: Path, name: str, record: dict[str, str]) -> None:
    """Add ``name`` to the checksum file: written whole to a temporary file, then renamed over the old one."""
    records = {**_read_checksums(cache), name: record}
    descriptor, temporary = tempfile.mkstemp(dir=cache, prefix=f".{CHECKSUMS_FILE}-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(records, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(temporary, cache / CHECKSUMS_FILE)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _is_dataset_name(name: str) -> bool:
    return name.replace("-", "").replace("_", "").isalnum()


def _check_members(archive: zipfile.ZipFile, url: str) -> None:
    for member in archive.namelist():
        parts = PurePosixPath(member.replace("\\", "/")).parts
        if member.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise ValueError(f"refusing to extract {member!r} from {url}: path outside the dataset folder")
