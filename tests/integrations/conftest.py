"""Fixtures of the framework adapter tests: no telemetry, no network model, a local Ray on loopback only."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Haystack reads this when it is imported; the adapters' tests never send telemetry.
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

# Ray: loopback only (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 makes a local Ray take 127.0.0.1 as its node address,
# so every server listens there), no usage stats, token auth on with a token of the tests' own (Ray would
# otherwise write one to ~/.ray/auth_token). Ray reads them when it is imported, so they are set here, before any
# test module imports it; they concern nothing but Ray.
RAY_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "token",
    "RAY_AUTH_TOKEN": secrets.token_hex(32),
}
for _name, _value in RAY_ENV.items():
    os.environ.setdefault(_name, _value)


def ray_processes() -> set[int]:
    """Ray's own processes (raylet, gcs_server, workers) whose parent chain leads to this test process."""
    listing = subprocess.run(["ps", "-eo", "pid=,ppid=,comm="], capture_output=True, text=True, check=True).stdout
    parents, names = {}, {}
    for line in listing.splitlines():
        pid, ppid, name = line.split(None, 2)
        parents[int(pid)], names[int(pid)] = int(ppid), name
    mine = set()
    for pid, name in names.items():
        ancestor = parents.get(pid)
        while ancestor and ancestor != os.getpid():
            ancestor = parents.get(ancestor)
        if ancestor == os.getpid() and ("ray" in name or "gcs_server" in name):
            mine.add(pid)
    return mine


def socket_addresses(pids: set[int]) -> list[str]:
    """Addresses of the TCP sockets held by ``pids``, as ``ss`` prints them: the local address of each listening or
    connected socket and the peer of each connected one (a listening socket's peer is a wildcard)."""
    output = subprocess.run(["ss", "-tanpH"], capture_output=True, text=True, check=True).stdout
    addresses = []
    for line in output.splitlines():
        if any(f"pid={pid}," in line for pid in pids):
            state, _, _, local, peer = line.split()[:5]
            addresses.extend([local] if state == "LISTEN" else [local, peer])
    return addresses


@pytest.fixture
def local_ray() -> Iterator[object]:
    """A local Ray: 2 CPUs, a small object store, no dashboard, bound to 127.0.0.1; shut down and checked gone."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'nli-rerank[ray]')")
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-"))  # short: Ray's socket paths must fit in 107 characters
    try:
        ray.init(num_cpus=2, object_store_memory=80 * 1024**2, include_dashboard=False, _temp_dir=str(temp_dir),
                 log_to_driver=False, configure_logging=False)  # fmt: skip
        yield ray
    finally:
        started = ray_processes()  # workers too: they are the raylet's children while it runs
        ray.shutdown()
        LEFT_BEHIND.extend(end_processes(started, wait_s=20.0))
        shutil.rmtree(temp_dir, ignore_errors=True)


# Processes of the local Ray still alive 20 s after ray.shutdown(), which the fixture had to end itself.
LEFT_BEHIND: list[int] = []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def end_processes(pids: set[int], wait_s: float) -> list[int]:
    """Wait up to ``wait_s`` for ``pids`` (processes this test session started) to exit, then end the rest by pid;
    the ones that had to be ended."""
    deadline = time.monotonic() + wait_s
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.5)
    lingering = sorted(pid for pid in pids if alive(pid))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in lingering:
            if alive(pid):
                os.kill(pid, sig)
        time.sleep(2.0)
    return lingering
