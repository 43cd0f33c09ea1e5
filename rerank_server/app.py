"""The FastAPI application of ``rerank serve``: routes, authentication, limits, errors and metrics.

Routes: POST /rerank, /search, /verify, /classify, /answers; GET /healthz, /metrics, /info, / (the results explorer
page), the OpenAPI schema at /openapi.json and its pages /docs and /redoc. Every API route but /healthz and the
pages requires ``Authorization: Bearer <key>`` when the server has an API key. Requests are validated before
anything is queued; every bad request gets a 4xx JSON body ``{"detail": "...", "errors": [{"field": ...,
"message": ...}]}``.

Example:
    >>> app = create_app(Service(RerankerSpec("path/to/nli-model"), ServerSettings()))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Sequence
from importlib import resources
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from rerank_server.batching import QueueFullError, RequestTimeoutError
from rerank_server.errors import ERRORS, ApiError
from rerank_server.metrics import CONTENT_TYPE
from rerank_server.responses import candidates_from, check_query, rerank_response, retrieved_rows
from rerank_server.schemas import (
    RerankRequest,
    RerankResponse,
    SearchRequest,
    SearchResponse,
    VerifyRequest,
)
from rerank_server.service import Service

__all__ = ["ApiError", "create_app"]

logger = logging.getLogger(__name__)

ROUTES = ("/", "/healthz", "/metrics", "/info", "/rerank", "/search", "/verify", "/classify", "/answers",
          "/openapi.json", "/docs", "/redoc")  # fmt: skip
TASK_ROUTES = ("/rerank", "/search", "/verify", "/classify", "/answers")
DOCS_ASSETS = "/docs/assets"  # the scripts and styles of /docs and /redoc (fastapi-offline)
UNION_TAGS = ("str", "DocumentIn")  # pydantic's names of the members of ``str | DocumentIn`` in error locations


def _error(
    status: int, message: str, errors: Sequence[dict[str, str]] = (), headers: dict | None = None
) -> JSONResponse:
    return JSONResponse({"detail": message, "errors": list(errors)}, status_code=status, headers=headers)


def _field(location: Sequence[Any]) -> str:
    parts = [str(part) for part in location if part != "body"]
    text = ""
    for part in parts:
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text or "body"


def _fastapi(**kwargs: Any) -> FastAPI:
    """The FastAPI app, with /docs (Swagger UI) and /redoc served from the fastapi-offline package: no CDN, so the
    pages work without internet. Without that package, FastAPI's own pages, which load their scripts from a CDN."""
    try:
        from fastapi_offline import FastAPIOffline
    except ImportError:
        return FastAPI(**kwargs)
    return FastAPIOffline(static_url=DOCS_ASSETS, **kwargs)


class _Guard:
    """ASGI middleware: body size limit, UTF-8 check, request count and latency by route."""

    def __init__(self, app, service: Service):
        self.app, self.service = app, service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = path if path in ROUTES else "other"
        started, status = time.perf_counter(), 500

        async def send_recording(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            problem, body = await self._read_body(scope, receive)
            if problem is not None:
                await problem(scope, receive, send_recording)
                return
            if body is not None:
                replayed = False

                async def receive_again():
                    nonlocal replayed
                    if replayed:
                        return await receive()
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}

                await self.app(scope, receive_again, send_recording)
            else:
                await self.app(scope, receive, send_recording)
        finally:
            metrics = self.service.metrics
            metrics.requests.inc(route=route, status=str(status))
            metrics.latency.observe(time.perf_counter() - started, route=route)

    async def _read_body(self, scope, receive) -> tuple[Response | None, bytes | None]:
        if scope["method"] not in {"POST", "PUT", "PATCH"}:
            return None, None
        limit = self.service.settings.max_body_bytes
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _error(413, f"request body is {int(declared)} bytes; the limit is {limit} (max_body_bytes)"), None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return _error(400, "the client disconnected before sending the whole body"), None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return _error(413, f"request body is over {limit} bytes (max_body_bytes)"), None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as error:
            return _error(
                400, f"request body is not valid UTF-8 (byte 0x{body[error.start]:02x} at offset {error.start}); "
                "send JSON encoded as UTF-8",
            ), None  # fmt: skip
        return None, body


def create_app(service: Service, *, load: bool = True) -> FastAPI:
    """The application serving ``service``; with ``load`` the model loads in the background at start-up."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if load and not service.ready:
            service.load_in_background()
        try:
            yield
        finally:
            await run_in_threadpool(service.close)

    app = _fastapi(
        title="nli-rerank",
        summary="NLI reranking: /rerank (Cohere v2 / Jina superset with NLI probabilities), /search, /verify.",
        version=_version(),
        lifespan=lifespan,
    )
    app.add_middleware(_Guard, service=service)
    settings = service.settings

    async def authorized(request: Request) -> None:
        if settings.api_key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), settings.api_key.encode()):
            raise ApiError(401, "missing or wrong API key; send 'Authorization: Bearer <key>'",
                           headers={"WWW-Authenticate": "Bearer"})  # fmt: skip

    def ready() -> Service:
        if service.error is not None:
            raise ApiError(503, f"the model failed to load: {service.error}")
        if not service.ready:
            raise ApiError(503, "the model is still loading; retry shortly", headers={"Retry-After": "5"})
        return service

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        errors = [{"field": error.field, "message": error.message}] if error.field else []
        return _error(error.status, error.message, errors, error.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors: list[dict[str, str]] = []
        for item in error.errors():
            location = item.get("loc", ())
            message = item.get("msg", "invalid").removeprefix("Value error, ")
            if item.get("type") == "extra_forbidden":
                message = "unknown field"
            elif item.get("type") == "json_invalid":
                where = location[-1] if location and isinstance(location[-1], int) else "?"
                message = f"invalid JSON at character {where} ({item.get('ctx', {}).get('error', 'cannot parse')})"
                location = ()
            elif location and location[-1] in UNION_TAGS:  # neither a string nor a document object
                message = "must be a string or an object with a text field"
            field = _field([part for part in location if part not in UNION_TAGS])
            if not any(e["field"] == field and e["message"] == message for e in errors):
                errors.append({"field": field, "message": message})
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return _error(422, f"invalid request: {summary}", errors)

    @app.exception_handler(Exception)
    async def _internal(request: Request, error: Exception) -> JSONResponse:
        logger.error("%s %s failed: %s: %s", request.method, request.url.path, type(error).__name__, error)
        return _error(500, f"internal error while scoring ({type(error).__name__}); other requests are unaffected")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return _error(error.status_code, str(error.detail), headers=getattr(error, "headers", None))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        html = resources.files("rerank_server").joinpath("static/index.html").read_text(encoding="utf-8")
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    @app.get("/healthz", responses=ERRORS)
    async def healthz() -> JSONResponse:
        """200 once the model is loaded and warmed up; 503 while loading or after a failed load."""
        if service.ready:
            return JSONResponse({"status": "ok", "model": service.model_name})
        if service.error is not None:
            return JSONResponse({"status": "failed", "detail": str(service.error)}, status_code=503)
        return JSONResponse({"status": "loading"}, status_code=503, headers={"Retry-After": "5"})

    @app.get("/metrics", dependencies=[Depends(authorized)], response_class=Response)
    async def metrics() -> Response:
        """Prometheus text format: requests, latency, pairs, tokens, batch sizes, queue depth."""
        return Response(service.metrics.registry.render(), media_type=CONTENT_TYPE)

    @app.get("/info", dependencies=[Depends(authorized)], responses=ERRORS)
    async def info() -> dict[str, Any]:
        """The served model, its kind and thresholds, whether /search has an index, and the limits."""
        live = ready()
        reranker = live.reranker
        assert reranker is not None
        return {
            "model": live.model_name,
            "kind": "nli" if live.is_nli else "relevance",
            "columns": list(reranker.columns),
            "thresholds": sorted(reranker.thresholds),
            "default_thresholds": live.spec.thresholds,
            "fusion_weight": getattr(reranker, "fusion_weight", None),
            "order": getattr(reranker, "order", None),
            "index": live.retriever is not None,
            "backend": live.runner.backend if live.runner else None,
            "precision": live.runner.precision if live.runner else None,
            "batching": live.batching_settings(),
            "routes": sorted(_task_routes(app)),
            "limits": settings.model_dump(include={"max_documents", "max_document_chars", "max_query_chars",
                                                   "max_body_bytes", "max_k", "request_timeout_s"}),
        }  # fmt: skip

    @app.post(
        "/rerank",
        dependencies=[Depends(authorized)],
        response_model=RerankResponse,
        responses=ERRORS,
        response_model_exclude_none=True,
    )
    async def rerank(body: RerankRequest) -> dict[str, Any]:
        """Rerank documents against a query (Cohere v2 / Jina shape, plus nli, kept and evidence)."""
        live = ready()
        _check_model(body.model, live)
        query = check_query(body.query, settings.max_query_chars, "query")
        if not body.documents:
            raise ApiError(422, "documents is empty; send at least one document", "documents")
        if len(body.documents) > settings.max_documents:
            raise ApiError(
                422, f"{len(body.documents)} documents sent; the limit is {settings.max_documents} (max_documents)",
                "documents",
            )  # fmt: skip
        candidates = candidates_from(body.documents, settings.max_document_chars, "documents")
        limits = _thresholds(live, body.given_thresholds())
        results, usage = await _call(live.rerank, query, candidates, body.top_n, limits)
        return rerank_response(live, results, usage, limits, body.documents, body.return_documents,
                               body.include_filtered)  # fmt: skip

    @app.post(
        "/search",
        dependencies=[Depends(authorized)],
        response_model=SearchResponse,
        responses=ERRORS,
        response_model_exclude_none=True,
    )
    async def search(body: SearchRequest) -> dict[str, Any]:
        """Retrieve ``k`` candidates from the server's index, then rerank them."""
        live = ready()
        if live.retriever is None:
            raise ApiError(404, "this server has no index; start it with `rerank serve --index DIR` to use /search")
        query = check_query(body.query, settings.max_query_chars, "query")
        if body.k > settings.max_k:
            raise ApiError(422, f"k={body.k} is over the limit {settings.max_k} (max_k)", "k")
        limits = _thresholds(live, body.given_thresholds())
        candidates = await run_in_threadpool(live.retrieve, query, body.k)
        results, usage = await _call(live.rerank, query, candidates, body.top_n, limits)
        response = rerank_response(live, results, usage, limits, None, body.return_documents, body.include_filtered)
        response["query"] = query
        response["retrieved"] = retrieved_rows(candidates, body.return_documents)
        return response

    @app.post("/verify", dependencies=[Depends(authorized)], responses=ERRORS)
    async def verify(body: VerifyRequest) -> dict[str, Any]:
        """Fact-check one claim against its evidence: SUPPORTS, REFUTES or NOT_ENOUGH_INFO, with evidence spans."""
        live = ready()
        if not live.is_nli:
            raise ApiError(400, f"/verify needs an NLI model; {live.model_name!r} is a relevance model")
        claim = check_query(body.claim, settings.max_query_chars, "claim")
        if len(body.evidence) > settings.max_documents:
            raise ApiError(
                422, f"{len(body.evidence)} evidence items sent; the limit is {settings.max_documents} (max_documents)",
                "evidence",
            )  # fmt: skip
        documents = [
            c.document for c in candidates_from(body.evidence, settings.max_document_chars, "evidence", client_ids=True)
        ]
        given = {
            "min_entailment": body.min_entailment if body.min_entailment is not None
            else live.spec.thresholds.get("min_entailment"),
            "max_contradiction": body.max_contradiction if body.max_contradiction is not None
            else live.spec.thresholds.get("max_contradiction"),
        }  # fmt: skip
        verdict, usage = await _call(live.verify, claim, documents, given)
        return {
            "model": live.model_name,
            **verdict.model_dump(),
            "usage": {"pairs": usage.pairs, "tokens": usage.tokens},
        }

    async def _call(function, *args):
        try:
            return await run_in_threadpool(function, *args)
        except QueueFullError as error:
            raise ApiError(503, str(error), headers={"Retry-After": "1"}) from None
        except RequestTimeoutError:
            message = f"the request took longer than {settings.request_timeout_s} s (request_timeout_s)"
            raise ApiError(504, message) from None
        except (ValueError, TypeError) as error:  # input the model cannot take (e.g. a query longer than max_length)
            raise ApiError(400, " ".join(str(error).split())) from None
        except Exception as error:  # a model or backend failure: this request fails, the server and others go on
            logger.exception("scoring failed")
            raise ApiError(500, f"internal error while scoring ({type(error).__name__}: {error}); other requests "
                           "are unaffected") from None  # fmt: skip

    from rerank_server.task_routes import add_task_routes

    add_task_routes(app, service, authorized, ready, _call)
    app.state.service = service
    app.state.call = _call
    app.state.ready = ready
    app.state.authorized = authorized
    return app


def _task_routes(app: FastAPI) -> set[str]:
    return {getattr(route, "path", "") for route in app.routes} & set(TASK_ROUTES)


def _check_model(model: str | None, service: Service) -> None:
    if model is None:
        return
    name = service.model_name
    if model not in {name, name.rstrip("/").rsplit("/", 1)[-1]}:
        raise ApiError(400, f"model {model!r} is not served here; this server runs {name!r} (one model per server)",
                       "model")  # fmt: skip


def _thresholds(service: Service, given: dict[str, float | None]) -> dict[str, float]:
    try:
        return service.thresholds(given)
    except ValueError as error:
        name = next((n for n, v in given.items() if v is not None and n in str(error)), None)
        raise ApiError(422, str(error), name) from None


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("nli-rerank")
    except Exception:
        return "0"
