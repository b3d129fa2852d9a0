"""The Gateway's one middleware, `Edge`, and the app class whose stack holds it: request id and
last-resort error envelope, access log and metrics, the health probe, the tenant path prefix and
the body size limit, in one pure-ASGI layer rather than one layer each (every layer is another
coroutine and another `send` wrapper on every request)."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from starlette.exceptions import HTTPException
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sophon.platform import metrics
from sophon.platform.errors import InternalError, PayloadTooLarge, error_response
from sophon.platform.ids import new_id
from sophon.platform.request_context import (
    client_ip_var,
    request_id_var,
    tenant_id_var,
    user_id_var,
)
from sophon.platform.tenancy import TENANT_SLUG_KEY

REQUEST_ID_HEADER = "x-sophon-request-id"
RESPONSE_HEADERS_KEY = "sophon.response_headers"  # scope entry: headers for whatever response
HEALTH_PATH = "/api/health"
QUIET_ROUTES = frozenset({HEALTH_PATH, "/metrics"})  # probes and scrapes: access-logged at DEBUG
_WELL_FORMED_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_TENANT_PREFIX = re.compile(r"^/api/tenants/([^/]+)(/.*)$")
_BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})
_HEALTH_BODY = b'{"status":"ok"}'
_HEALTH_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"15")]
_HEALTH_ROUTE = type("HealthRoute", (), {"path_format": HEALTH_PATH})()
access_log = logging.getLogger("sophon.access")
error_log = logging.getLogger("sophon.errors")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class Edge:
    """Outermost layer, in this order:

    - assigns the request id (echoing a well-formed client id) and stamps it, with the headers
      inner layers put in `RESPONSE_HEADERS_KEY`, on the response;
    - serves every tenant-scoped route also as `/api/tenants/{slug}/...`: the prefix is taken
      off the path and kept in the scope, where the auth guard reads it (it wins over the
      header);
    - answers `GET /api/health` before routing: load balancers poll it, so it stays cheap under
      load (the FastAPI route still documents it and answers other methods);
    - refuses bodies above the limit with 413: at once when Content-Length says so, otherwise
      as soon as the streamed body crosses it; multipart uploads get the larger upload limit;
    - turns any unhandled exception into a logged 500 `internal_error` envelope that never
      shows the stack, and writes the access line and metrics."""

    def __init__(self, app: ASGIApp, json_limit: int, upload_limit: int) -> None:
        self.app = app
        self.json_limit = json_limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        sent = _header(scope, REQUEST_ID_HEADER.encode())
        request_id = sent if sent and _WELL_FORMED_ID.match(sent) else new_id("req")
        token = request_id_var.set(request_id)
        client = scope.get("client")
        ip_token = client_ip_var.set(client[0] if client else None)
        user_id_var.set(None)  # filled in by the auth guard once the caller is known
        tenant_id_var.set(None)
        started = time.perf_counter()
        status = 500
        response_started = False
        id_header = (REQUEST_ID_HEADER.encode(), request_id.encode())
        extra_headers: dict[str, str] = {}  # inner layers add headers for any response here

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [*message.get("headers", ()), id_header]
                if extra_headers:
                    # the response's own header wins: a 429 from another limiter (login
                    # lockout) carries its set, and the route's allowed-request set must not be
                    # added to it
                    present = {name.lower() for name, _ in headers}
                    for name, value in extra_headers.items():
                        key = name.lower().encode()
                        if key not in present:
                            headers.append((key, value.encode()))
                message["headers"] = headers
            await send(message)

        inner = _without_tenant_prefix(scope)
        inner[RESPONSE_HEADERS_KEY] = extra_headers
        try:
            if kind == "http" and inner["path"] == HEALTH_PATH and inner["method"] == "GET":
                inner["route"] = _HEALTH_ROUTE
                await send_with_id(
                    {"type": "http.response.start", "status": 200, "headers": _HEALTH_HEADERS}
                )
                await send_with_id({"type": "http.response.body", "body": _HEALTH_BODY})
            elif kind == "http" and inner["method"] not in _BODILESS:
                await self._limited(inner, receive, send_with_id)
            else:
                await self.app(inner, receive, send_with_id)
        except Exception:
            error_log.exception("unhandled error on %s %s", scope.get("method"), scope["path"])
            if response_started or kind != "http":
                raise
            status = 500
            await error_response(InternalError())(inner, receive, send_with_id)
        finally:
            if kind == "http":
                _log_access(scope, _route_template(inner), status, time.perf_counter() - started)
            request_id_var.reset(token)
            client_ip_var.reset(ip_token)

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        content_type = _header(scope, b"content-type") or ""
        is_upload = content_type.startswith("multipart/form-data")
        limit = self.upload_limit if is_upload else self.json_limit
        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            await error_response(_too_large(limit))(scope, receive, send)
            return

        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI re-raises HTTPException from body parsing; the handler maps it.
                    raise HTTPException(413, detail=_too_large(limit).message)
            return message

        await self.app(scope, counted_receive, send)


def _without_tenant_prefix(scope: Scope) -> Scope:
    """The scope inner layers see: under a tenant prefix a copy without it (the access line
    shows the path as requested)."""
    match = _TENANT_PREFIX.match(scope["path"])
    if match is None:
        return scope
    slug, rest = match.groups()
    path = "/api" + rest
    return {**scope, "path": path, "raw_path": path.encode(), TENANT_SLUG_KEY: slug}


def _log_access(scope: Scope, route: str, status: int, elapsed: float) -> None:
    metrics.observe_request(scope["method"], route, status, elapsed)
    level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
    if access_log.isEnabledFor(level):
        # the record is made here rather than by `access_log.log`, which would first walk the
        # stack for the caller's file and line, which no log line shows
        args = (scope["method"], scope["path"], status)
        extra = {"status": status, "route": route, "durationMs": round(elapsed * 1e3, 2)}
        record = access_log.makeRecord(
            access_log.name, level, __file__, 0, "%s %s %s", args, None, extra=extra
        )
        access_log.handle(record)


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else "unmatched"


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body exceeds the limit of {limit} bytes.", {"limitBytes": limit}
    )


class GatewayApp(FastAPI):
    """FastAPI with a shorter middleware stack: the added middleware (`Edge`), Starlette's
    ExceptionMiddleware (the error handlers), FastAPI's AsyncExitStackMiddleware (routes need
    its stack), the router. FastAPI puts three more layers around every request, none of which
    does anything here: ServerErrorMiddleware (Edge is the last-resort handler and answers the
    500 envelope itself; no 500 handler is registered), AppBodyLimitMiddleware (idle without
    `max_body_size`: Edge enforces the limits) and ExceptionTelemetryMiddleware (notes
    exceptions for FastAPI's OpenTelemetry, which the Gateway does not configure, and Edge has
    turned them into 500s before it would see them)."""

    def build_middleware_stack(self) -> ASGIApp:
        handlers = {
            key: handler
            for key, handler in self.exception_handlers.items()
            if key not in (500, Exception)
        }
        app: ASGIApp = AsyncExitStackMiddleware(self.router)
        app = ExceptionMiddleware(app, handlers=handlers, debug=self.debug)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return app
