"""HTTP service for NLI reranking (``rerank serve``; needs the ``serve`` extra: FastAPI and uvicorn).

It sits beside the command line, on top of ``rerank`` and ``retrievers``: ``import rerank`` never imports it.

Example:
    >>> from rerank_server import RerankerSpec, ServerSettings, Service, create_app  # doctest: +SKIP
    >>> app = create_app(Service(RerankerSpec("path/to/nli-model"), ServerSettings()))  # doctest: +SKIP
"""

from __future__ import annotations

from rerank_server.settings import ServerSettings, settings_from_env

__all__ = ["RerankerSpec", "ServerSettings", "Service", "create_app", "settings_from_env"]


def __getattr__(name: str):
    if name == "create_app":  # FastAPI loads only when an app is built
        from rerank_server.app import create_app

        return create_app
    if name in {"Service", "RerankerSpec"}:
        from rerank_server import service

        return getattr(service, name)
    raise AttributeError(f"module 'rerank_server' has no attribute {name!r}")
