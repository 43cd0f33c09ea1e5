"""BEIR download: served by a local HTTP server (no internet), extracted atomically, refused when unsafe or wrong,
never attempted offline, and checked against the published MD5 or the SHA-256 recorded at the first download."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import threading
import zipfile
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from eval import download, load_beir, resolve_dataset
from eval.download import CHECKSUMS_FILE, OFFLINE_ENVS, URL_ENV, download_beir
from rerank_cli.main import main


def zip_folder(folder: Path, name: str, extra: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{name}/{path.relative_to(folder).as_posix()}")
        for member, text in (extra or {}).items():
            archive.writestr(f"{name}/{member}", text)
    return buffer.getvalue()


def zip_members(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, text in members.items():
            archive.writestr(member, text)
    return buffer.getvalue()


@dataclass
class Served:
    url: str  # a URL template with {name}
    root: Path  # the served folder: replace a file there to serve a different archive
    requests: list[str]  # the paths asked for, in order
    httpd: ThreadingHTTPServer


@pytest.fixture
def server(tmp_path, tiny_beir, monkeypatch):
    """An HTTP server on 127.0.0.1 over tiny.zip (good), scifact.zip (tiny's files under the name scifact, so not
    BEIR's archive), notzip.zip, nobeir.zip and evil.zip; online (the suite sets HF_HUB_OFFLINE); stopped after."""
    for variable in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", URL_ENV, *OFFLINE_ENVS):
        monkeypatch.delenv(variable, raising=False)  # the server is local: never go through a proxy
    root = tmp_path / "served"
    root.mkdir()
    (root / "tiny.zip").write_bytes(zip_folder(tiny_beir, "tiny"))
    (root / "scifact.zip").write_bytes(zip_folder(tiny_beir, "scifact"))
    (root / "notzip.zip").write_bytes(b"<html>not found</html>")
    (root / "nobeir.zip").write_bytes(zip_members({"nobeir/readme.txt": "hello"}))
    (root / "evil.zip").write_bytes(zip_members({"evil/queries.jsonl": "{}", "../escaped.txt": "x"}))
    requests: list[str] = []
    handler = partial(QuietHandler, directory=str(root), requests=requests)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{httpd.server_address[1]}/{{name}}.zip", root, requests, httpd)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


class QuietHandler(SimpleHTTPRequestHandler):
    def __init__(self, *args, requests: list[str], **kwargs) -> None:
        self.requests = requests  # set first: the base class handles the request inside __init__
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_download_extracts_once_and_then_reads_the_cache(server, tmp_path, tiny_beir):
    url, httpd = server.url, server.httpd
    cache = tmp_path / "cache"
    folder = resolve_dataset("tiny", cache, url_template=url, show_progress=False)
    assert folder == cache / "tiny" and leftovers(cache) == [CHECKSUMS_FILE, "tiny"]  # no staging folder left
    original, downloaded = load_beir(tiny_beir), load_beir(folder)
    assert downloaded.queries == original.queries and downloaded.qrels == original.qrels
    assert [d.content for d in downloaded.corpus] == [d.content for d in original.corpus]
    httpd.shutdown()  # a second call must not need the network
    assert resolve_dataset("tiny", cache, url_template=url, show_progress=False) == folder


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing", "could not be downloaded"), ("notzip", "could not be downloaded"), ("nobeir", "not a BEIR dataset")],
)
def test_failed_downloads_leave_nothing_in_the_cache(server, tmp_path, name, message):
    url = server.url
    cache = tmp_path / "cache"
    with pytest.raises(FileNotFoundError, match=message) as caught:
        download_beir(name, cache, url_template=url, show_progress=False)
    assert url.format(name=name) in str(caught.value)
    assert leftovers(cache) == []


def test_archive_with_paths_outside_its_folder_is_refused(server, tmp_path):
    url = server.url
    cache = tmp_path / "deep" / "cache"
    with pytest.raises(ValueError, match="outside the dataset folder"):
        download_beir("evil", cache, url_template=url, show_progress=False)
    assert leftovers(cache) == []
    assert not any(p.name == "escaped.txt" for p in tmp_path.rglob("*"))
    with pytest.raises(ValueError, match="not a BEIR dataset name"):
        download_beir("../escaped", cache, url_template=url, show_progress=False)


def test_cli_eval_downloads_by_name_from_the_mirror_variable(server, tmp_path, monkeypatch, capsys):
    url = server.url
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the default cache is ~/.cache/nli-rerank/beir
    monkeypatch.setenv(URL_ENV, url)
    out = tmp_path / "r.json"
    assert main(["eval", "--dataset", "tiny", "--k", "5", "--metrics", "recall@5", "--out", str(out),
                 "--no-progress"]) == 0  # fmt: skip
    assert (tmp_path / "home" / ".cache" / "nli-rerank" / "beir" / "tiny" / "queries.jsonl").is_file()
    assert json.loads(out.read_text())["per_query"]["bm25"]["recall@5"]["q2"] == 1.0
    assert "3 queries" in capsys.readouterr().out


def recorded(cache: Path) -> dict:
    return json.loads((cache / CHECKSUMS_FILE).read_text(encoding="utf-8"))


@pytest.mark.parametrize(("variable", "value"), [("HF_HUB_OFFLINE", "1"), ("NLI_RERANK_OFFLINE", "True")])
def test_offline_mode_refuses_to_download_a_dataset_not_in_the_cache(server, tmp_path, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    cache = tmp_path / "cache"
    with pytest.raises(FileNotFoundError) as caught:
        resolve_dataset("tiny", cache, url_template=server.url, show_progress=False)
    message = str(caught.value)
    assert "'tiny'" in message and f"{variable}={value}" in message and f"unset {variable}" in message
    assert "local BEIR folder" in message and "\n" not in message
    assert server.requests == [] and not cache.exists()  # no connection made, nothing created


@pytest.mark.parametrize("value", ["0", "false", ""])
def test_offline_variables_set_to_false_allow_downloads(server, tmp_path, monkeypatch, value):
    for variable in OFFLINE_ENVS:
        monkeypatch.setenv(variable, value)
    assert download_beir("tiny", tmp_path / "cache", url_template=server.url, show_progress=False).is_dir()


def test_offline_mode_reads_a_dataset_already_in_the_cache(server, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    folder = resolve_dataset("tiny", cache, url_template=server.url, show_progress=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_dataset("tiny", cache, url_template=server.url, show_progress=False) == folder
    assert load_beir(folder).queries and server.requests == ["/tiny.zip"]


def test_cli_eval_offline_names_the_dataset_and_the_variable(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv(URL_ENV, server.url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["eval", "--dataset", "tiny", "--k", "5", "--no-progress"]) == 2
    error = capsys.readouterr().err.strip()
    assert "'tiny'" in error and "HF_HUB_OFFLINE=1" in error and len(error.splitlines()) == 1
    assert server.requests == []


def test_official_archive_with_the_wrong_md5_is_refused_and_nothing_kept(server, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "BEIR_URL", server.url)  # the "official host" is the local server
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match=r"not the 5f7d1de60b170fc8027bb7898e2efca1 BEIR publishes for 'scifact'"):
        download_beir("scifact", cache, show_progress=False)
    assert leftovers(cache) == []  # no dataset, no staging folder, no recorded checksum


def test_official_archive_with_the_published_md5_is_accepted_without_a_record(server, tmp_path, monkeypatch):
    served = (server.root / "scifact.zip").read_bytes()
    monkeypatch.setattr(download, "BEIR_URL", server.url)
    monkeypatch.setitem(download.BEIR_MD5, "scifact", hashlib.md5(served).hexdigest())
    cache = tmp_path / "cache"
    assert download_beir("scifact", cache, show_progress=False) == cache / "scifact"
    assert leftovers(cache) == ["scifact"]  # the published checksum is the reference: nothing recorded


def test_mirror_records_the_first_sha256_and_refuses_a_different_archive_later(server, tmp_path, tiny_beir):
    cache = tmp_path / "cache"
    first = (server.root / "tiny.zip").read_bytes()
    folder = download_beir("tiny", cache, url_template=server.url, show_progress=False)
    assert recorded(cache) == {
        "tiny": {"sha256": hashlib.sha256(first).hexdigest(), "url": server.url.format(name="tiny")}
    }
    assert not any(p.name.endswith(".tmp") for p in cache.iterdir())  # the record was written through a renamed file

    # The same archive again (the cached folder removed by hand): accepted.
    shutil.rmtree(folder)
    assert download_beir("tiny", cache, url_template=server.url, show_progress=False) == folder
    # A different archive under the same name: refused, nothing extracted, the record unchanged.
    shutil.rmtree(folder)
    (server.root / "tiny.zip").write_bytes(zip_folder(tiny_beir, "tiny", extra={"extra.txt": "changed"}))
    with pytest.raises(ValueError, match=r"not the .* recorded for 'tiny' at its first download") as caught:
        download_beir("tiny", cache, url_template=server.url, show_progress=False)
    assert str(cache / CHECKSUMS_FILE) in str(caught.value)
    assert leftovers(cache) == [CHECKSUMS_FILE]
    assert recorded(cache)["tiny"]["sha256"] == hashlib.sha256(first).hexdigest()


def test_checksum_records_of_several_datasets_are_kept_together(server, tmp_path):
    cache = tmp_path / "cache"
    download_beir("tiny", cache, url_template=server.url, show_progress=False)
    download_beir("scifact", cache, url_template=server.url, show_progress=False)  # a mirror: recorded too
    assert sorted(recorded(cache)) == ["scifact", "tiny"]


def test_unreadable_checksum_record_is_an_error_naming_the_file(server, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / CHECKSUMS_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="delete the file"):
        download_beir("tiny", cache, url_template=server.url, show_progress=False)
    assert leftovers(cache) == [CHECKSUMS_FILE]
