"""The API's error: a status code and a one-line message naming the field at fault, answered as JSON."""

from __future__ import annotations

from typing import Any

from rerank_server.schemas import ErrorBody

__all__ = ["ERRORS", "ApiError"]

# The error responses the routes document in the OpenAPI schema, all with the ErrorBody shape.
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (400, 401, 404, 413, 422, 503, 504)}


class ApiError(Exception):
    """An error answered as ``{"detail": message, "errors": [...]}`` with its status code."""

    def __init__(self, status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers or {}
