"""``rerank serve``: the HTTP rerank service (POST /rerank, /search, /verify; GET /healthz, /metrics, /).

Needs the ``serve`` extra (``pip install 'nli-rerank[serve]'``). Every server setting is a flag or an environment
variable RERANK_<NAME> (RERANK_MODEL, RERANK_PORT, RERANK_API_KEY, RERANK_MAX_DOCUMENTS, ...); flags win.
The model loads after the port is bound: /healthz answers 503 until it is loaded and warmed up.
"""

from __future__ import annotations

import argparse
import logging
import os

from rerank.nli_reranker import DEFAULT_MODEL
from rerank_cli.common import add_reranker_options, check_reranker_flags, given_thresholds

logger = logging.getLogger(__name__)

# ServerSettings fields offered as flags (host, port, api key and index are declared with their own help).
LIMIT_FLAGS = ("max_documents", "max_document_chars", "max_query_chars", "max_body_bytes", "max_queued_pairs",
               "request_timeout_s", "max_k", "batch_tokens", "max_batch_pairs", "lookahead_pairs",
               "max_wait_ms")  # fmt: skip


def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="serve reranking over HTTP", description=__doc__)
    parser.add_argument("--host", default=None, help="address to bind (default 127.0.0.1; env RERANK_HOST)")
    parser.add_argument("--port", type=int, default=None, help="TCP port (default 8080; 0: any free port)")
    parser.add_argument("--index", default=None, help="saved retriever directory for /search (env RERANK_INDEX)")
    parser.add_argument(
        "--api-key", default=None, help="require 'Authorization: Bearer KEY' (env RERANK_API_KEY, preferred)"
    )
    parser.add_argument(
        "--no-batching", dest="batching", action="store_const", const=False, default=None,
        help="score one request at a time instead of batching concurrent requests together",
    )  # fmt: skip
    group = parser.add_argument_group("limits and batching")
    from rerank_server.settings import ServerSettings  # pydantic only: no FastAPI at parser build time

    for name in LIMIT_FLAGS:
        field = ServerSettings.model_fields[name]
        kind = float if name in {"request_timeout_s", "max_wait_ms"} else int
        group.add_argument(
            "--" + name.replace("_", "-"), type=kind, default=None,
            help=f"{field.description} ({'' if field.default is None else f'default {field.default}; '}"
            f"env RERANK_{name.upper()})",
        )  # fmt: skip
    add_reranker_options(parser, model_default=None, model_help=f"hub id or local directory (env RERANK_MODEL; "
                         f"default {DEFAULT_MODEL})")  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rerank.errors import MissingDependencyError

    try:
        import uvicorn

        from rerank_server.app import create_app
    except ImportError as error:
        raise MissingDependencyError(
            f"rerank serve needs FastAPI and uvicorn ({error.name} is missing): pip install 'nli-rerank[serve]'"
        ) from None
    from rerank_server.service import RerankerSpec, Service
    from rerank_server.settings import is_loopback, settings_from_env

    args.model = args.model or os.environ.get("RERANK_MODEL") or DEFAULT_MODEL
    overrides = {name: getattr(args, name) for name in (*LIMIT_FLAGS, "host", "port", "index", "api_key", "batching")}
    settings = settings_from_env(overrides)
    options = check_reranker_flags(args, show_progress=False)  # every flag checked before the model loads
    if settings.index is not None and not os.path.isdir(settings.index):
        raise FileNotFoundError(2, "No such index directory", settings.index)
    if not is_loopback(settings.host) and settings.api_key is None:
        logger.warning("binding %s without an API key: anyone who can reach it can use the model; set "
                       "RERANK_API_KEY or --api-key", settings.host)  # fmt: skip
    spec = RerankerSpec(
        model=args.model, options=options, granularity=args.granularity, title=args.title,
        window_tokens=args.window_tokens, aggregate=args.aggregate, order=args.order, language=args.language,
        direction=args.direction, max_segments=args.max_segments, fusion_weight=args.fusion_weight,
        template=args.template, labels=args.labels, calibration=args.calibration,
        thresholds=given_thresholds(args),
    )  # fmt: skip
    service = Service(spec, settings, on_failure=lambda error: setattr(server, "should_exit", True))
    config = uvicorn.Config(
        create_app(service), host=settings.host, port=settings.port, log_level="info", access_log=bool(args.verbose),
        timeout_graceful_shutdown=max(1, int(settings.request_timeout_s)), lifespan="on",
    )  # fmt: skip
    server = uvicorn.Server(config)
    server.run()
    if service.error is not None:
        raise service.error
    return 0
