"""BEIR download: served by a local HTTP server (no internet), extracted atomically, refused when unsafe or wrong."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from eval import load_beir, resolve_dataset
from eval.download import URL_ENV, download_beir
from rerank_cli.main import main


def zip_folder(folder: Path, name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{name}/{path.relative_to(folder).as_posix()}")
    return buffer.getvalue()


def zip_members(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, text in members.items():
            archive.writestr(member, text)
    return buffer.getvalue()


@pytest.fixture
def server(tmp_path, tiny_beir, monkeypatch):
    """An HTTP server over a folder of archives: tiny.zip (good), notzip.zip, nobeir.zip, evil.zip; yields its URL."""
    for variable in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)  # the server is local: never go through a proxy
    root = tmp_path / "served"
    root.mkdir()
    (root / "tiny.zip").write_bytes(zip_folder(tiny_beir, "tiny"))
    (root / "notzip.zip").write_bytes(b"<html>not found</html>")
    (root / "nobeir.zip").write_bytes(zip_members({"nobeir/readme.txt": "hello"}))
    (root / "evil.zip").write_bytes(zip_members({"evil/queries.jsonl": "{}", "../escaped.txt": "x"}))
    handler = partial(QuietHandler, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/{{name}}.zip", httpd
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_download_extracts_once_and_then_reads_the_cache(server, tmp_path, tiny_beir):
    url, httpd = server
    cache = tmp_path / "cache"
    folder = resolve_dataset("tiny", cache, url_template=url, show_progress=False)
    assert folder == cache / "tiny" and leftovers(cache) == ["tiny"]  # no staging folder left behind
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
    url, _ = server
    cache = tmp_path / "cache"
    with pytest.raises(FileNotFoundError, match=message) as caught:
        download_beir(name, cache, url_template=url, show_progress=False)
    assert url.format(name=name) in str(caught.value)
    assert leftovers(cache) == []


def test_archive_with_paths_outside_its_folder_is_refused(server, tmp_path):
    url, _ = server
    cache = tmp_path / "deep" / "cache"
    with pytest.raises(ValueError, match="outside the dataset folder"):
        download_beir("evil", cache, url_template=url, show_progress=False)
    assert leftovers(cache) == []
    assert not any(p.name == "escaped.txt" for p in tmp_path.rglob("*"))
    with pytest.raises(ValueError, match="not a BEIR dataset name"):
        download_beir("../escaped", cache, url_template=url, show_progress=False)


def test_cli_eval_downloads_by_name_from_the_mirror_variable(server, tmp_path, monkeypatch, capsys):
    url, _ = server
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the default cache is ~/.cache/nli-rerank/beir
    monkeypatch.setenv(URL_ENV, url)
    out = tmp_path / "r.json"
    assert main(["eval", "--dataset", "tiny", "--k", "5", "--metrics", "recall@5", "--out", str(out),
                 "--no-progress"]) == 0  # fmt: skip
    assert (tmp_path / "home" / ".cache" / "nli-rerank" / "beir" / "tiny" / "queries.jsonl").is_file()
    assert json.loads(out.read_text())["per_query"]["bm25"]["recall@5"]["q2"] == 1.0
    assert "3 queries" in capsys.readouterr().out
