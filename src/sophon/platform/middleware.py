"""Pure-ASGI middleware for the cross-cutting request concerns: request id and last-resort error
envelope, access log and metrics, and the body size limit."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from starlette.exceptions import HTTPException
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

REQUEST_ID_HEADER = "x-sophon-request-id"
RESPONSE_HEADERS_KEY = "sophon.response_headers"  # scope entry: headers for whatever response
HEALTH_PATH = "/api/health"
QUIET_ROUTES = frozenset({HEALTH_PATH, "/metrics"})  # probes and scrapes: access-logged at DEBUG
_WELL_FORMED_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
access_log = logging.getLogger("sophon.access")
error_log = logging.getLogger("sophon.errors")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    """Outermost layer: assigns the request id (echoing a well-formed client id), stamps it on the
    response, writes the access line and metrics, and turns any unhandled exception into a logged
    500 `internal_error` envelope that never shows the stack."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
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
        scope[RESPONSE_HEADERS_KEY] = extra_headers

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [*message.get("headers", ()), id_header]
                # the response's own header wins: a 429 from another limiter (login lockout)
                # carries its set, and the route's allowed-request set must not be added to it
                present = {name.lower() for name, _ in headers}
                for name, value in extra_headers.items():
                    key = name.lower().encode()
                    if key not in present:
                        headers.append((key, value.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            error_log.exception("unhandled error on %s %s", scope.get("method"), scope["path"])
            if response_started or scope["type"] != "http":
                raise
            status = 500
            await error_response(InternalError())(scope, receive, send_with_id)
        finally:
            if scope["type"] == "http":
                elapsed = time.perf_counter() - started
                route = _route_template(scope)
                metrics.observe_request(scope["method"], route, status, elapsed)
                level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
                if access_log.isEnabledFor(level):
                    access_log.log(
                        level,
                        "%s %s %s",
                        scope["method"],
                        scope["path"],
                        status,
                        extra={
                            "status": status,
                            "route": route,
                            "durationMs": round(elapsed * 1e3, 2),
                        },
                    )
            request_id_var.reset(token)
            client_ip_var.reset(ip_token)


class HealthProbe:
    """Answers `GET /api/health` before routing: load balancers poll it, so it must stay cheap
    under load. (The FastAPI route still documents it and answers other methods.)"""

    BODY = b'{"status":"ok"}'
    HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"15")]
    ROUTE = type("HealthRoute", (), {"path_format": HEALTH_PATH})()

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == HEALTH_PATH and scope["method"] == "GET":
            scope["route"] = self.ROUTE
            await send({"type": "http.response.start", "status": 200, "headers": self.HEADERS})
            await send({"type": "http.response.body", "body": self.BODY})
            return
        await self.app(scope, receive, send)


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else "unmatched"


class BodyLimitMiddleware:
    """Refuses bodies above the limit with 413: at once when Content-Length says so, otherwise as
    soon as the streamed body crosses it. Multipart uploads get the larger upload limit."""

    def __init__(self, app: ASGIApp, json_limit: int, upload_limit: int) -> None:
        self.app = app
        self.json_limit = json_limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
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


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body exceeds the limit of {limit} bytes.", {"limitBytes": limit}
    )
