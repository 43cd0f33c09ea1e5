"""Saving never loses data: foreign directories are refused, and an interrupted save leaves the old or new index."""

from __future__ import annotations

import fcntl
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import retrievers.saving as saving
from rerank.records import Document
from retrievers import BM25Retriever, HybridRetriever, IndexFormatError, Tokenizer, load_retriever
from retrievers.storage import LOCK, MANIFEST, POINTER, VERSION_NAME, open_directory, read_pointer

DATA = Path(__file__).parent / "data"
REPOSITORY = Path(__file__).resolve().parents[2]
SWITCH = saving.SAVE_STEPS.index("pointer-replaced")


class InjectedFault(Exception):
    """Raised by the save hook at the step under test."""


def bm25(documents, **options):
    return BM25Retriever(documents, show_progress=False, **options)


def ids(directory):
    """The document ids of whatever retriever ``directory`` holds (a hybrid: its first source's)."""
    retriever = load_retriever(directory, show_progress=False)
    if isinstance(retriever, HybridRetriever):
        retriever = next(iter(retriever.retrievers.values()))
    return [document.id for document in retriever.documents]


def snapshot(directory):
    """Every path under ``directory`` with its mode and bytes, to prove a refused save changed nothing."""
    return {
        path.relative_to(directory).as_posix(): (path.stat().st_mode, path.read_bytes() if path.is_file() else None)
        for path in sorted(directory.rglob("*"))
    } | {".": (directory.stat().st_mode, None)}


def entries(directory):
    return sorted(path.name for path in directory.iterdir())


def versions(directory):
    return sorted(name for name in entries(directory) if VERSION_NAME.fullmatch(name))


def assert_clean(directory, previous=None):
    """Only the pointer, the lock, the current version and (at most) the previous one are left."""
    current = read_pointer(directory)
    expected = {POINTER, LOCK, current} | ({previous} if previous else set())
    assert set(entries(directory)) == expected, entries(directory)


# --- data loss: only a retriever this program saved is ever replaced -------------------------------------------


def exported_model(directory):
    directory.mkdir()
    (directory / "manifest.json").write_text('{"model": "cross-encoder/nli-deberta-v3-xsmall", "precision": "fp32"}')
    (directory / "model.onnx").write_bytes(os.urandom(2048))
    (directory / "config.json").write_text('{"model_type": "deberta-v2"}')
    (directory / "tokenizer.json").write_text('{"version": "1.0"}')
    return directory


def web_folder(directory):
    directory.mkdir()
    (directory / "manifest.json").write_text('{"name": "My app", "start_url": "/", "icons": []}')
    (directory / "index.html").write_text("<html></html>")
    return directory


def false_claim(directory):
    """A manifest with our format name that is not a valid manifest of ours."""
    directory.mkdir()
    (directory / "manifest.json").write_text('{"format": "nli-rerank-retriever", "format_version": 1, "files": []}')
    (directory / "data.bin").write_bytes(b"precious")
    return directory


def notes_folder(directory):
    directory.mkdir()
    (directory / "todo.txt").write_text("keep me")
    return directory


@pytest.mark.parametrize("make", [exported_model, web_folder, false_claim, notes_folder])
def test_save_refuses_a_directory_it_did_not_save_and_leaves_it_untouched(corpus, tmp_path, make):
    target = make(tmp_path / "target")
    before = snapshot(target)
    with pytest.raises(FileExistsError, match=f"cannot save a retriever to {target}: it .*left untouched"):
        bm25(corpus).save(target)
    assert snapshot(target) == before
    assert entries(tmp_path) == ["target"]


def test_save_refuses_a_file_and_leaves_it_untouched(corpus, tmp_path):
    target = tmp_path / "index"
    target.write_text("not a directory")
    with pytest.raises(FileExistsError, match="exists and is not a directory"):
        bm25(corpus).save(target)
    assert target.read_text() == "not a directory"


def test_save_fills_an_empty_directory(corpus, tmp_path):
    (tmp_path / "index").mkdir()
    bm25(corpus).save(tmp_path / "index")
    assert ids(tmp_path / "index") == [d.id for d in corpus]


# --- crash safety: fault injection at every step -------------------------------------------------------------


def old_index(scenario, corpus, target):
    """Put the index a save will replace at ``target``; returns its first source's document ids (None: nothing)."""
    if scenario == "first save":
        return None
    if scenario == "over format 2":
        bm25(corpus[:3]).save(target)
        return [d.id for d in corpus[:3]]
    shutil.copytree(DATA / ("v1-bm25" if scenario == "over format 1" else "v1-hybrid"), target)
    return [d.id for d in corpus]


def new_retriever(scenario, documents):
    if scenario == "hybrid over format 1":
        return HybridRetriever([bm25(documents), bm25(documents, tokenizer=Tokenizer(stemmer=None), name="plain")])
    return bm25(documents)


@pytest.mark.parametrize("scenario", ["first save", "over format 2", "over format 1", "hybrid over format 1"])
@pytest.mark.parametrize("step", saving.SAVE_STEPS)
def test_a_save_interrupted_at_any_step_leaves_the_old_or_the_new_index(corpus, tmp_path, monkeypatch, scenario, step):
    target = tmp_path / "index"
    old = old_index(scenario, corpus, target)
    new = [Document(id=f"new-{d.id}", text=d.text) for d in corpus[2:6]]

    def fault(reached, directory):
        if reached == step and directory == target.resolve():
            raise InjectedFault(step)

    monkeypatch.setattr(saving, "save_step", fault)
    with pytest.raises(InjectedFault):
        new_retriever(scenario, new).save(target)
    monkeypatch.undo()

    if saving.SAVE_STEPS.index(step) >= SWITCH:
        assert ids(target) == [d.id for d in new]
    elif old is None:
        with pytest.raises((IndexFormatError, FileNotFoundError)):
            load_retriever(target)
    else:
        assert ids(target) == old
    if scenario != "first save" and step in {"pointer-replaced", "pointer-synced"} and "format 1" in scenario:
        assert (target / MANIFEST).is_file()  # the format 1 files are still there, and current.json wins

    # the next save succeeds and removes every leftover of the interrupted one
    previous = read_pointer(target) if (target / POINTER).exists() else None
    newest = [Document(id=f"newest-{d.id}", text=d.text) for d in corpus[:4]]
    new_retriever(scenario, newest).save(target)
    assert ids(target) == [d.id for d in newest]
    assert_clean(target, previous)


SAVER = """
import os, sys, time
from rerank.records import Document
from retrievers import BM25Retriever, Tokenizer

tokenizer = Tokenizer(stopwords=None, stemmer=None, pattern=r"k[0-9]+")
def build(tag, n):  # ~5 MB of documents each, cheap to tokenise
    documents = [Document(id=f"{tag}{i}", text=f"k{i} " + "lorem ipsum " * 1500) for i in range(n)]
    return BM25Retriever(documents, tokenizer=tokenizer, show_progress=False)
a, b = build("a", 300), build("b", 320)
started = time.perf_counter()
a.save(sys.argv[1])
print("ready", time.perf_counter() - started, flush=True)
for line in sys.stdin:  # one forked saver per line; the test SIGKILLs it
    pid = os.fork()
    if pid == 0:
        try:
            while True:
                b.save(sys.argv[1])
                a.save(sys.argv[1])
        finally:
            os._exit(1)
    print(pid, flush=True)
    os.waitpid(pid, 0)
    print("dead", flush=True)
"""


def test_killed_saves_leave_the_old_or_the_new_index(tmp_path):
    """SIGKILL processes saving two large indexes in turn, at random moments; after each kill, load the index."""
    kills = int(os.environ.get("RETRIEVERS_KILLS", "20"))
    target = tmp_path / "index"
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    zygote = subprocess.Popen(
        [sys.executable, "-c", SAVER, str(target)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env=environment,
    )  # fmt: skip
    expected = {"a": [f"a{i}" for i in range(300)], "b": [f"b{i}" for i in range(320)]}
    outcomes = {"a": 0, "b": 0}
    interrupted = 0
    rng = random.Random(0)
    try:
        save_seconds = float(zygote.stdout.readline().split()[1])
        for _ in range(kills):
            zygote.stdin.write("save\n")
            zygote.stdin.flush()
            pid = int(zygote.stdout.readline())
            time.sleep(rng.uniform(0, 3 * save_seconds))
            os.kill(pid, signal.SIGKILL)
            assert zygote.stdout.readline().strip() == "dead"
            interrupted += any(name.startswith(".") and name != LOCK for name in entries(target))
            found = ids(target)  # verify=True: every file's SHA-256 matches its manifest
            assert found in expected.values()
            outcomes[found[0][0]] += 1
    finally:
        zygote.stdin.close()
        zygote.wait(timeout=30)
    print(f"{kills} kills: complete index loaded each time {outcomes}, {interrupted} left staging files")
    previous = read_pointer(target)
    bm25(["after the kills"]).save(target)
    assert_clean(target, previous)


# --- symlinks, modes, locking, leftovers, old versions ------------------------------------------------------------


def test_saving_onto_a_symlink_saves_through_it(corpus, tmp_path):
    real, link = tmp_path / "real", tmp_path / "link"
    real.mkdir()
    link.symlink_to(real, target_is_directory=True)
    assert bm25(corpus[:2]).save(link) == link
    bm25(corpus).save(link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert ids(link) == ids(real) == [d.id for d in corpus]
    assert entries(tmp_path) == ["link", "real"]


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_saved_folders_and_files_follow_the_umask(corpus, tmp_path, umask):
    previous = os.umask(umask)
    try:
        target = bm25(corpus).save(tmp_path / "deep" / "index")
    finally:
        os.umask(previous)
    version = target / read_pointer(target)
    for folder in (tmp_path / "deep", target, version):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~umask
    for file in (target / POINTER, version / MANIFEST, version / "documents.jsonl", version / "counts.npy"):
        assert stat.S_IMODE(file.stat().st_mode) == 0o666 & ~umask


def test_a_save_waits_while_another_holds_the_lock(corpus, tmp_path):
    target = bm25(corpus[:2]).save(tmp_path / "index")
    descriptor = os.open(target / LOCK, os.O_RDWR)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    saver = threading.Thread(target=bm25(corpus).save, args=(target,))
    try:
        saver.start()
        saver.join(timeout=0.5)
        assert saver.is_alive() and ids(target) == [d.id for d in corpus[:2]]
        assert not any(name.startswith(".staging-") for name in entries(target))  # it has not started staging
    finally:
        os.close(descriptor)
    saver.join(timeout=30)
    assert not saver.is_alive() and ids(target) == [d.id for d in corpus]


def test_the_next_save_removes_leftovers_of_killed_saves_and_nothing_else(corpus, tmp_path):
    target = bm25(corpus[:2]).save(tmp_path / "index")
    current = read_pointer(target)
    (target / ".staging-20260101T000000-0123abcd").mkdir()
    (target / ".staging-20260101T000000-0123abcd" / "documents.jsonl").write_text("half")
    (target / ".current.json.tmp-20260101T000000-0123abcd").write_text("{")
    shutil.copytree(target / current, target / "version-20260101T000000-89abcdef")  # complete, never pointed to
    (target / "notes.txt").write_text("mine")
    bm25(corpus).save(target)
    assert set(entries(target)) == {POINTER, LOCK, current, read_pointer(target), "notes.txt"}
    assert (target / "notes.txt").read_text() == "mine"


def test_a_reader_of_the_previous_version_keeps_it_until_the_save_after(corpus, tmp_path):
    target = bm25(corpus[:2]).save(tmp_path / "index")
    reading = open_directory(target, "bm25")  # a reader resolved version 1 before the next save
    bm25(corpus[:3]).save(target)
    assert reading.directory.is_dir() and len(reading.documents()) == 2
    second = read_pointer(target)
    bm25(corpus[:4]).save(target)
    assert not reading.directory.exists() and ids(target) == [d.id for d in corpus[:4]]
    assert_clean(target, second)


def test_a_save_over_format_1_removes_its_files_but_not_unlisted_ones(corpus, tmp_path):
    target = tmp_path / "index"
    shutil.copytree(DATA / "v1-hybrid", target)
    (target / "README.txt").write_text("about this index")
    (target / "sources" / "notes.txt").write_text("mine too")
    bm25(corpus[:2]).save(target)
    assert ids(target) == [d.id for d in corpus[:2]]
    assert set(entries(target)) == {POINTER, LOCK, read_pointer(target), "README.txt", "sources"}
    assert [p.name for p in (target / "sources").rglob("*")] == ["notes.txt"]
