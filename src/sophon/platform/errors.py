"""Domain errors with stable codes, and the one place that turns them into the wire envelope
`{"error": {"code", "message", "details", "requestId"}}`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from sophon.platform.request_context import request_id_var

log = logging.getLogger("sophon.errors")
JSON_MEDIA_TYPE = "application/json"


class DomainError(Exception):
    """Base of every error a service may raise; carries its HTTP status and wire code."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "invalid_request"
    default_message: ClassVar[str] = "The request is invalid."

    def __init__(
        self,
        message: str | None = None,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        keep_writes: bool = False,
    ) -> None:
        self.message = message or self.default_message
        self.details = dict(details or {})
        self.headers = dict(headers or {})
        self.keep_writes = keep_writes  # commit what the transaction wrote (an audit trace) anyway
        super().__init__(self.message)


class InvalidRequest(DomainError):
    status, code, default_message = 400, "invalid_request", "The request is malformed."


class Unauthenticated(DomainError):
    status, code, default_message = 401, "unauthenticated", "Authentication is required."


class NotAuthorized(DomainError):
    status, code, default_message = 403, "not_authorized", "You are not allowed to do this."


class NotFound(DomainError):
    status, code, default_message = 404, "not_found", "The resource does not exist."


class MethodNotAllowed(DomainError):
    status, code, default_message = 405, "method_not_allowed", "This method is not allowed here."


class Conflict(DomainError):
    status, code, default_message = 409, "conflict", "The resource is in a conflicting state."


class PayloadTooLarge(DomainError):
    status, code, default_message = 413, "payload_too_large", "The request body is too large."


class UnsupportedMediaType(DomainError):
    status, code = 415, "unsupported_media_type"
    default_message = "The request body must be JSON (Content-Type: application/json)."


class ValidationFailed(DomainError):
    status, code, default_message = 422, "validation_failed", "The request failed validation."

    @classmethod
    def on(cls, field: str, message: str, problem: str | None = None) -> ValidationFailed:
        """One field's failure, named the way request validation names it (`body.url`,
        `query.limit`); `problem` is the short note beside the field (the message by default)."""
        return cls(message, {"fields": [{"field": field, "message": problem or message}]})


class RateLimited(DomainError):
    status, code, default_message = 429, "rate_limited", "Too many requests; slow down."


class BudgetExceeded(DomainError):
    """A token budget (an agent's, a tenant's) is used up for the day."""

    status, code, default_message = 429, "budget_exceeded", "The token budget is used up."


class InternalError(DomainError):
    status, code, default_message = 500, "internal_error", "An unexpected error occurred."


class UpstreamUnavailable(DomainError):
    status, code, default_message = 502, "upstream_unavailable", "An upstream service failed."


class ServiceUnavailable(DomainError):
    status, code, default_message = 503, "service_unavailable", "The Gateway is not accepting work."


def envelope(code: str, message: str, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": dict(details or {}),
            "requestId": request_id_var.get(),
        }
    }


def error_response(error: DomainError) -> JSONResponse:
    return JSONResponse(
        envelope(error.code, error.message, error.details),
        status_code=error.status,
        headers=error.headers,
    )


_STATUS_ERRORS: dict[int, type[DomainError]] = {
    cls.status: cls
    for cls in (
        InvalidRequest,
        Unauthenticated,
        NotAuthorized,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        ValidationFailed,
        RateLimited,
        InternalError,
        UpstreamUnavailable,
        ServiceUnavailable,
    )
}


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        where, rest = parts[0], parts[1:]
        return f"{where}.{'.'.join(rest)}" if rest else where
    return ".".join(parts)


def validation_error(exc: RequestValidationError, content_type: str | None = None) -> DomainError:
    if isinstance(exc.body, bytes):  # FastAPI hands over raw bytes when the type is not JSON
        return UnsupportedMediaType(details={"expected": JSON_MEDIA_TYPE, "received": content_type})
    errors = exc.errors()
    if any(err.get("type") == "json_invalid" for err in errors):
        return InvalidRequest("The request body is not valid JSON.")
    fields = [
        {"field": _field_path(tuple(err.get("loc", ()))), "message": err.get("msg", "invalid")}
        for err in errors
    ]
    names = ", ".join(f["field"] for f in fields)
    return ValidationFailed(f"Invalid fields: {names}.", {"fields": fields})


async def _domain_handler(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return error_response(exc)


async def _validation_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(validation_error(exc, request.headers.get("content-type")))


async def _http_handler(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    cls = _STATUS_ERRORS.get(exc.status_code, InvalidRequest)
    message = cls.default_message
    if exc.status_code == 404:
        message = "No such route or resource."
    error = cls(message, headers=exc.headers)
    response = error_response(error)
    response.status_code = exc.status_code
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
