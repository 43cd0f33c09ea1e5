"""ServerSettings from flags and RERANK_* environment variables; `import rerank` stays free of the server."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rerank_server.settings import ServerSettings, is_loopback, settings_from_env


def test_flags_win_over_the_environment_over_defaults():
    environ = {"RERANK_PORT": "9000", "RERANK_MAX_DOCUMENTS": "50", "RERANK_API_KEY": "k", "RERANK_BATCHING": "false"}
    settings = settings_from_env({"port": 9100, "max_documents": None}, environ)
    assert (settings.port, settings.max_documents, settings.api_key, settings.batching) == (9100, 50, "k", False)
    assert settings.host == "127.0.0.1" and settings_from_env({}, {}) == ServerSettings()


def test_a_bad_value_names_its_source():
    with pytest.raises(ValueError, match="RERANK_MAX_DOCUMENTS='many'"):
        settings_from_env({}, {"RERANK_MAX_DOCUMENTS": "many"})
    with pytest.raises(ValueError, match="--port=70000"):
        settings_from_env({"port": 70000}, {})


LOOPBACK = [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False), ("10.1.2.3", False),
            ("example.org", False)]  # fmt: skip


@pytest.mark.parametrize(("host", "loopback"), LOOPBACK)
def test_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_import_rerank_loads_neither_the_server_nor_fastapi():
    code = (
        "import sys, rerank; print([m for m in ('fastapi', 'uvicorn', 'rerank_server', 'torch') if m in sys.modules])"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"
