"""Find a BEIR dataset: a local folder, or a BEIR name fetched once from the official zip into a cache.

The download is streamed to a temporary file with a progress bar, checked (a real zip, no member outside its
folder, the BEIR files present) and extracted into a staging folder that is renamed into place only when complete,
so an interrupted or corrupt download never leaves a half-written dataset that a later run would trust.

Example:
    >>> folder = resolve_dataset("scifact")  # doctest: +SKIP  (downloads once, then reads the cache)
    >>> data = load_beir(folder)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

__all__ = ["BEIR_URL", "DEFAULT_DATA_CACHE", "URL_ENV", "download_beir", "resolve_dataset"]

BEIR_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/{name}.zip"
# A mirror for users who cannot reach the official host: a URL template with {name}.
URL_ENV = "NLI_RERANK_BEIR_URL"
DEFAULT_DATA_CACHE = Path("~/.cache/nli-rerank/beir")
REQUIRED_FILES = ("queries.jsonl", "qrels")
CHUNK_BYTES = 1 << 20


def resolve_dataset(
    dataset: str | Path,
    cache_dir: str | Path = DEFAULT_DATA_CACHE,
    *,
    url_template: str | None = None,
    show_progress: bool = True,
) -> Path:
    """A BEIR folder for ``dataset``: the path itself when it is a folder, else a BEIR dataset name ("scifact")
    looked up in ``cache_dir`` and, when absent there, downloaded once (see ``download_beir``).

    Raises:
        FileNotFoundError: Neither a folder nor a downloadable name; the message names the URL tried.
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

    Args:
        url_template: Where to fetch from, with ``{name}``; default ``$NLI_RERANK_BEIR_URL`` or the official host.

    Raises:
        FileNotFoundError: The download failed or the archive is not a BEIR dataset (nothing is left in the cache).
        ValueError: ``name`` is not a plain name, or the archive holds a path outside its folder (nothing is extracted).
    """
    import urllib.request

    from tqdm.auto import tqdm

    if not _is_dataset_name(name):
        raise ValueError(f"{name!r} is not a BEIR dataset name (letters, digits, '-' and '_' only)")
    cache = Path(cache_dir).expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    url = (url_template or os.environ.get(URL_ENV) or BEIR_URL).format(name=name)
    with tempfile.TemporaryDirectory(dir=cache, prefix=f".{name}-download-") as scratch:
        archive_path = Path(scratch) / f"{name}.zip"
        try:
            with urllib.request.urlopen(url, timeout=60) as response, archive_path.open("wb") as handle:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {name}",
                          disable=not show_progress, leave=False) as progress:  # fmt: skip
                    while chunk := response.read(CHUNK_BYTES):
                        handle.write(chunk)
                        progress.update(len(chunk))
            archive = zipfile.ZipFile(archive_path)
        except (OSError, zipfile.BadZipFile) as error:
            raise FileNotFoundError(
                f"dataset {name!r} is not a local folder and could not be downloaded from {url} ({error}); "
                "pass the path of a BEIR folder instead"
            ) from error
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
    return target


def _is_dataset_name(name: str) -> bool:
    return name.replace("-", "").replace("_", "").isalnum()


def _check_members(archive: zipfile.ZipFile, url: str) -> None:
    for member in archive.namelist():
        parts = PurePosixPath(member.replace("\\", "/")).parts
        if member.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise ValueError(f"refusing to extract {member!r} from {url}: path outside the dataset folder")
