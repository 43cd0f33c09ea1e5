"""Start `rerank serve` in a subprocess on a free loopback port, wait until /healthz says ready, and stop it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

READY_TIMEOUT_S = 240  # loading torch and the model on a busy two-core machine


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen
    log: Path

    def stop(self, timeout_s: float = 60) -> int:
        """SIGTERM (uvicorn's graceful shutdown) and wait; kill it if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
                raise
        return self.process.returncode


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def live_server(args: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    port = free_port()
    command = [sys.executable, "-m", "rerank_cli.main", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    server = LiveServer(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"rerank serve exited with {process.returncode}: {log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(server.url + "/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"rerank serve was not ready in {READY_TIMEOUT_S} s: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
