"""ServerSettings: where the server listens, who may call it, and the limits every request is checked against.

Each field can come from a ``rerank serve`` flag (``--max-documents``) or an environment variable ``RERANK_<FIELD>``
(``RERANK_MAX_DOCUMENTS``); a flag wins over the environment, the environment over the default.

Example:
    >>> ServerSettings(max_documents=100).max_documents
    100
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["CPU_BATCH_TOKENS", "ENV_PREFIX", "GPU_BATCH_TOKENS", "ServerSettings", "is_loopback", "settings_from_env"]

ENV_PREFIX = "RERANK_"
# Model batch sizes (rows x width) by device. On CPUs, tokens/s peaked around 1-2k tokens per batch and fell beyond
# it when the model was timed alone (docs/server.md, "Batching across requests"); GPUs want large batches.
CPU_BATCH_TOKENS = 2048
GPU_BATCH_TOKENS = 16384


class ServerSettings(BaseModel):
    """Network, security, batching and limits of ``rerank serve``; immutable, validated when built."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field("127.0.0.1", description="address to bind (loopback by default)")
    port: int = Field(8080, ge=0, le=65535, description="TCP port (0: any free port)")
    api_key: str | None = Field(None, min_length=1, description="require 'Authorization: Bearer <key>' on API routes")
    index: str | None = Field(None, description="saved retriever directory for /search (fixed at start-up)")
    max_documents: int = Field(1000, ge=1, description="documents per request")
    max_document_chars: int = Field(100_000, ge=1, description="characters per document (text + title)")
    max_query_chars: int = Field(2_000, ge=1, description="characters per query or claim")
    max_body_bytes: int = Field(10_000_000, ge=1024, description="request body size in bytes")
    max_queued_pairs: int = Field(20_000, ge=1, description="pairs waiting for the model; above it 503 + Retry-After")
    request_timeout_s: float = Field(60.0, gt=0, description="seconds a request may take before a 504")
    max_k: int = Field(1000, ge=1, description="largest retrieval depth /search accepts")
    batching: bool = Field(True, description="score concurrent requests together (false: one request at a time)")
    batch_tokens: int | None = Field(
        None, ge=1, description="rows x longest row in one model batch (auto: 2048 on a CPU, 16384 on a GPU)"
    )
    max_batch_pairs: int = Field(64, ge=1, description="rows in one model batch")
    lookahead_pairs: int = Field(1024, ge=1, description="queued pairs (of whole requests) one model batch draws from")
    max_wait_ms: float = Field(5.0, ge=0, description="how long a new request waits for requests still preparing")

    def model_batch_tokens(self, device: str) -> int:
        """``batch_tokens``, or its default for the device: a CPU runs fastest per token in small batches."""
        if self.batch_tokens is not None:
            return self.batch_tokens
        return CPU_BATCH_TOKENS if device == "cpu" else GPU_BATCH_TOKENS


def settings_from_env(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> ServerSettings:
    """ServerSettings from ``RERANK_<FIELD>`` environment variables, with ``overrides`` (None values skipped) on top.

    Raises:
        ValueError: A variable or override that is not valid for its field, naming it.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name in ServerSettings.model_fields:
        text = environ.get(ENV_PREFIX + name.upper())
        if text is not None and text.strip():
            values[name] = text.strip()
    given = {name: value for name, value in (overrides or {}).items() if value is not None}
    try:
        return ServerSettings.model_validate({**values, **given})
    except ValidationError as error:
        parts = []
        for item in error.errors():
            name = str(item["loc"][0]) if item["loc"] else "settings"
            source = "--" + name.replace("_", "-") if name in given else ENV_PREFIX + name.upper()
            parts.append(f"{source}={item.get('input')!r}: {item['msg']}")
        raise ValueError("invalid server setting " + "; ".join(parts)) from None


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
