"""Model identity: content fingerprints of weights and graphs, their memo, and hub ids resolved to a commit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rerank.backends import fingerprint
from rerank.backends.fingerprint import MEMO_FILE, clear_memo, graph_fingerprint, weights_fingerprint
from tests.rerank.fake_hub import add_snapshot, fake_commit, hub_env, repo_folder

REPO = "fake-org/tiny-nli"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty export cache (where the persistent memo lives) and an empty in-process memo."""
    monkeypatch.setenv("NLI_RERANK_CACHE", str(tmp_path / "cache"))
    clear_memo()
    yield tmp_path / "cache"
    clear_memo()


def model_copy(source: Path, target: Path, age_s: float = 0.0) -> Path:
    """A copy of a model directory whose files look ``age_s`` seconds old."""
    shutil.copytree(source, target)
    stamp = time.time_ns() - int(age_s * 1e9)
    for path in target.iterdir():
        os.utime(path, ns=(stamp, stamp))
    return target


def rewrite_last_bytes(path: Path, data: bytes) -> None:
    """Overwrite the end of a file in place: same name, same size, same inode, new bytes (a retrained tensor)."""
    with path.open("r+b") as handle:
        handle.seek(-len(data), os.SEEK_END)
        assert handle.read(len(data)) != data
        handle.seek(-len(data), os.SEEK_END)
        handle.write(data)


def test_content_not_names_or_sizes(cache, tiny_deberta_dir, tmp_path):
    model = model_copy(tiny_deberta_dir, tmp_path / "model", age_s=60)
    before = weights_fingerprint(model)
    assert before == weights_fingerprint(tiny_deberta_dir), "a copy of the same bytes is the same model"
    (model / "manifest.json").write_text('{"created": "now"}')
    (model / "README.md").write_text("notes")
    assert weights_fingerprint(model) == before, "files that do not define the model do not count"

    weights = model / "model.safetensors"
    size, inode = weights.stat().st_size, weights.stat().st_ino
    rewrite_last_bytes(weights, b"\x01\x02\x03\x04")
    assert (weights.stat().st_size, weights.stat().st_ino) == (size, inode)
    assert weights_fingerprint(model) != before, "retraining in place changes the fingerprint"


def test_racy_files_are_read_again(cache, tiny_deberta_dir, tmp_path):
    """A file changed within the same clock tick as its hashing (mtime unchanged) is not trusted to the memo."""
    model = model_copy(tiny_deberta_dir, tmp_path / "model")  # fresh files: mtime is now
    before = weights_fingerprint(model)
    weights = model / "model.safetensors"
    stat = weights.stat()
    rewrite_last_bytes(weights, b"\x05\x06\x07\x08")
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert weights_fingerprint(model) != before


def test_memo_in_process_then_on_disk_then_damaged(cache, tiny_deberta_dir, tmp_path):
    """The memo is what answers while a file's (path, size, mtime_ns, inode) is unchanged: bytes changed behind
    it with those restored are not seen, which shows the weights were not read again."""
    model = model_copy(tiny_deberta_dir, tmp_path / "model", age_s=60)
    before = weights_fingerprint(model)
    memo = json.loads((cache / MEMO_FILE).read_text())
    assert str(model / "model.safetensors") in memo and str(model / "manifest.json") not in memo

    weights = model / "model.safetensors"
    stat = weights.stat()
    rewrite_last_bytes(weights, b"\x09\x0a\x0b\x0c")
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert weights.stat().st_ino == stat.st_ino and weights.stat().st_size == stat.st_size
    assert weights_fingerprint(model) == before, "in-process memo"
    clear_memo()
    assert weights_fingerprint(model) == before, "persistent memo"

    (cache / MEMO_FILE).write_text('{"truncated": ')
    clear_memo()
    after = weights_fingerprint(model)
    assert after != before, "a damaged memo is ignored: the new bytes are read"
    rewritten = json.loads((cache / MEMO_FILE).read_text())
    assert rewritten[str(weights)]["sha256"] != memo[str(weights)]["sha256"]
    assert not list(cache.glob(f".{MEMO_FILE}.*")), "the memo is replaced atomically, no temporary file is left"


def test_graph_fingerprint_covers_its_external_data(cache, tmp_path):
    directory = tmp_path / "graph"
    directory.mkdir()
    (directory / "model.onnx").write_bytes(b"graph")
    (directory / "model.onnx.data").write_bytes(b"weights-1")
    (directory / "tokenizer.json").write_text("{}")
    before = graph_fingerprint(directory / "model.onnx")
    (directory / "manifest.json").write_text("{}")
    assert graph_fingerprint(directory / "model.onnx") == before
    (directory / "model.onnx.data").write_bytes(b"weights-2")
    assert graph_fingerprint(directory / "model.onnx") != before


def test_unreadable_memo_directory_only_costs_rereading(tmp_path, monkeypatch, tiny_deberta_dir):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("NLI_RERANK_CACHE", str(blocker / "cache"))
    clear_memo()
    assert weights_fingerprint(tiny_deberta_dir) == weights_fingerprint(tiny_deberta_dir)
    clear_memo()


HUB_SCRIPT = """
import json, sys
from pathlib import Path
from rerank.loading import load_model

ref, other = Path(sys.argv[1]), sys.argv[2]
first = load_model("fake-org/tiny-nli", backend="torch")
ref.write_text(other)  # a newer revision was downloaded
second = load_model("fake-org/tiny-nli")
print(json.dumps([[m.fingerprint, m.source, m.id2label[0]] for m in (first, second)]))
"""


@pytest.fixture
def fake_hub(tmp_path, tiny_deberta_dir, tiny_deberta_permuted_dir) -> tuple[Path, str, str]:
    """A fake HF cache holding two snapshots of fake-org/tiny-nli; refs/main names the first."""
    hub = tmp_path / "hub"
    first = add_snapshot(hub, REPO, tiny_deberta_dir, fake_commit("first"))
    second = add_snapshot(hub, REPO, tiny_deberta_permuted_dir, fake_commit("second"), ref="newer")
    return hub, first, second


def test_hub_id_resolves_to_its_snapshot_commit(fake_hub, tmp_path):
    """Offline, in a subprocess (huggingface_hub reads HF_HUB_CACHE at import): a hub id's fingerprint names the
    commit refs/main points at, and moves with it."""
    hub, first, second = fake_hub
    env = hub_env(hub, NLI_RERANK_CACHE=str(tmp_path / "cache"))
    ref = repo_folder(hub, REPO) / "refs" / "main"
    result = subprocess.run([sys.executable, "-c", HUB_SCRIPT, str(ref), second], capture_output=True, text=True,
                            env=env, cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == [[f"hub:{REPO}@{first}", REPO, "contradiction"], [f"hub:{REPO}@{second}", REPO, "entailment"]]


def test_export_cache_key_follows_the_hub_commit(fake_hub, monkeypatch):
    """What rerank.export.cache keys a hub id's on-demand export by (no export run here)."""
    import huggingface_hub.constants

    from rerank.export.cache import source_fingerprint

    hub, first, second = fake_hub
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    assert source_fingerprint(REPO) == f"hub:{REPO}@{first}"
    (repo_folder(hub, REPO) / "refs" / "main").write_text(second)
    assert source_fingerprint(REPO) == f"hub:{REPO}@{second}"
    assert source_fingerprint("fake-org/not-downloaded") is None


def test_snapshot_without_a_commit_name_hashes_its_content(fake_hub, monkeypatch, tmp_path, cache):
    import huggingface_hub.constants

    hub, first, _ = fake_hub
    snapshots = repo_folder(hub, REPO) / "snapshots"
    (snapshots / first).rename(snapshots / "local-copy")
    (repo_folder(hub, REPO) / "refs" / "main").write_text("local-copy")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    assert fingerprint.hub_fingerprint(REPO) == f"hub:{REPO}@{weights_fingerprint(snapshots / 'local-copy')}"
