"""Stable identities of scoring configurations, for cache keys.

A fingerprint hashes every setting that changes a score: the model's weights (``LoadedModel.fingerprint``: file
contents for a directory, the resolved revision for a hub id), backend, precision, max_length, and, for a reranker,
its label order, calibration, granularity, title handling and hypothesis template. Settings that only reorder or
filter (fusion weight, thresholds) are left out on purpose, so a weight or threshold sweep keeps hitting the cache.

Example:
    >>> fingerprint({"weights": "abc", "max_length": 512}) == fingerprint({"max_length": 512, "weights": "abc"})
    True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["fingerprint"]


def fingerprint(parts: Mapping[str, Any]) -> str:
    """A 16-hex-digit SHA-256 of ``parts`` as canonical JSON (key order does not matter)."""
    payload = json.dumps(parts, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("ascii")).hexdigest()[:16]
