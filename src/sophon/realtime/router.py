"""`/hubs/{hub}`: negotiate, the transports, and `install_hubs(app)`.

Every hub route declares its access like any REST route: the caller is authenticated with the
REST credentials (query `access_token` or Bearer header) or, on a transport request, by the
secret connection token (`?id=`) that an authenticated negotiate handed out, and must hold one
of the hub's permissions (`Hub.requires`) to open a connection. The WebSocket upgrade of
`GET /hubs/{hub}` goes through the same route and the same checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, Response, WebSocket
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from sophon.identity.guard import BEARER
from sophon.platform.access import Access, GuardedRoute, declare
from sophon.platform.errors import DomainError, InvalidRequest, envelope
from sophon.platform.principal import Principal
from sophon.platform.schemas import ApiModel
from sophon.platform.server import BEFORE_SHUTDOWN
from sophon.realtime.auth import Credentials, authenticate, credentials_of
from sophon.realtime.connection import Connection, Transport
from sophon.realtime.hub import Hub
from sophon.realtime.hubs import HUBS
from sophon.realtime.server import HubServer
from sophon.realtime.transports import attach, long_poll, run_websocket, server_sent_events

STATE_KEY = "hubs"
_WEBSOCKET_ATTR = "__sophon_websocket__"


def hub_server(app: Any) -> HubServer:
    server: HubServer = getattr(app.state, STATE_KEY)
    return server


@dataclass
class HubCaller:
    hub: Hub
    connection: Connection | None = None
    principal: Principal | None = None
    credentials: Credentials | None = None


async def hub_caller(request: Request, hub: str) -> HubCaller:
    """The hub, and either the connection named by `?id=` or the authenticated principal."""
    server = hub_server(request.app)
    found = server.hub(hub)
    token = request.query_params.get("id")
    if token:
        return HubCaller(found, connection=server.find(found, token))
    credentials = credentials_of(request)
    principal = await authenticate(request.app.state.gateway, request, credentials)
    found.admit(principal)
    return HubCaller(found, principal=principal, credentials=credentials)


CallerDep = Annotated[HubCaller, Depends(hub_caller)]

hub_access = declare(
    Access(
        "authenticated (hub)",
        dependencies=(Depends(hub_caller),),
        error_statuses=(401, 403, 404),
        security=BEARER,
        rate=None,  # hubs are exempt from request rate limits; their methods are limited
    )
)


class HubRoute(GuardedRoute):
    """A guarded HTTP route that also takes the WebSocket upgrade of its path."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.websocket_endpoint: Callable[[WebSocket], Awaitable[None]] = getattr(
            endpoint, _WEBSOCKET_ATTR
        )

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "websocket":
            return super().matches(scope)
        match = self.path_regex.match(get_route_path(scope))
        if match is None:
            return Match.NONE, {}
        params = {k: self.param_convertors[k].convert(v) for k, v in match.groupdict().items()}
        return Match.FULL, {"endpoint": self.endpoint, "path_params": params, "route": self}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.websocket_endpoint(WebSocket(scope, receive, send))
        else:
            await super().handle(scope, receive, send)


# --- negotiate ------------------------------------------------------------------------------


class AvailableTransport(ApiModel):
    transport: str
    transfer_formats: list[str]


class NegotiateOut(ApiModel):
    negotiate_version: int
    connection_id: str
    connection_token: str | None = None
    available_transports: list[AvailableTransport]


TRANSPORTS = [
    AvailableTransport(transport=Transport.WEBSOCKETS.value, transfer_formats=["Text"]),
    AvailableTransport(transport=Transport.SSE.value, transfer_formats=["Text"]),
    AvailableTransport(transport=Transport.LONG_POLLING.value, transfer_formats=["Text"]),
]


@hub_access
async def negotiate(
    request: Request,
    caller: CallerDep,
    negotiate_version: Annotated[int, Query(alias="negotiateVersion", ge=0)] = 0,
) -> NegotiateOut:
    """Opens a hub connection: its id, the secret token the transport uses (`?id=`), and the
    transports offered (WebSockets, ServerSentEvents, LongPolling; text, the JSON protocol)."""
    if caller.principal is None or caller.credentials is None:
        raise InvalidRequest("Negotiate with credentials, not with a connection id.")
    conn = hub_server(request.app).open(caller.hub, caller.principal, caller.credentials)
    if negotiate_version >= 1:
        return NegotiateOut(
            negotiate_version=1,
            connection_id=conn.id,
            connection_token=conn.token,
            available_transports=TRANSPORTS,
        )
    # version 0 has no separate token: the connection id is the secret
    return NegotiateOut(
        negotiate_version=0, connection_id=conn.token, available_transports=TRANSPORTS
    )


# --- transports -----------------------------------------------------------------------------


@hub_access
async def poll_or_stream(request: Request, caller: CallerDep) -> Response:
    """Server-Sent Events (`Accept: text/event-stream`) or a Long Polling request for `?id=`;
    the same URL takes the WebSocket upgrade (with `?id=`, or with credentials when the client
    skips negotiation)."""
    conn = _connection(caller)
    if "text/event-stream" in request.headers.get("accept", ""):
        return server_sent_events(conn)
    settings = request.app.state.gateway.settings
    return await long_poll(conn, settings.hub_long_poll_seconds)


@hub_access
async def send(request: Request, caller: CallerDep) -> Response:
    """Messages from a Server-Sent Events or Long Polling client."""
    conn = _connection(caller)
    if conn.transport is Transport.WEBSOCKETS:
        raise InvalidRequest("POST requests are not allowed for WebSocket connections.")
    body = await request.body()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("Hub messages must be UTF-8 text.") from None
    conn.feed(text)
    return Response(status_code=200, media_type="text/plain")


@hub_access
async def disconnect(caller: CallerDep) -> Response:
    """Ends a Long Polling (or any) connection."""
    conn = _connection(caller)
    conn.close(send_close=False)
    return Response(status_code=202, media_type="text/plain")


def _connection(caller: HubCaller) -> Connection:
    if caller.connection is None:
        raise InvalidRequest("Connection ID required: negotiate first and pass ?id=.")
    return caller.connection


async def websocket(ws: WebSocket) -> None:
    server = hub_server(ws.app)
    try:
        hub = server.hub(str(ws.path_params["hub"]))
        token = ws.query_params.get("id")
        if token:
            conn = server.find(hub, token)
        else:  # skipNegotiation: the socket itself authenticates
            credentials = credentials_of(ws)
            principal = await authenticate(ws.app.state.gateway, ws, credentials)
            hub.admit(principal)
            conn = server.open(hub, principal, credentials)
        attach(conn, Transport.WEBSOCKETS)
    except DomainError as error:
        await _deny(ws, error)
        return
    await ws.accept()
    await run_websocket(ws, conn)


setattr(poll_or_stream, _WEBSOCKET_ATTR, websocket)


async def _deny(ws: WebSocket, error: DomainError) -> None:
    """An HTTP error answer to the upgrade where the server can send one, else close 1008."""
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        from starlette.responses import JSONResponse

        response = JSONResponse(
            envelope(error.code, error.message, error.details), status_code=error.status
        )
        await ws.send_denial_response(response)
    else:
        await ws.close(code=1008, reason=error.message[:120])


# --- installation ---------------------------------------------------------------------------


def install_hubs(app: FastAPI, hubs: list[type[Hub]] | None = None) -> HubServer:
    """Adds the hub routes and runs the hubs for the app's lifetime (inside its lifespan, after
    the Gateway started; stopped before it closes)."""
    server = HubServer(hubs if hubs is not None else HUBS)
    setattr(app.state, STATE_KEY, server)
    setattr(app.state, BEFORE_SHUTDOWN, [*getattr(app.state, BEFORE_SHUTDOWN, []), server.stop])
    tags: list[str | Enum] = ["Hubs"]
    add = app.router.add_api_route
    add("/hubs/{hub}/negotiate", negotiate, methods=["POST"], operation_id="negotiateHub",
        tags=tags, route_class_override=GuardedRoute, response_model_exclude_none=True)  # fmt: skip
    add("/hubs/{hub}", poll_or_stream, methods=["GET"], operation_id="pollHub", tags=tags,
        route_class_override=HubRoute, response_class=Response)  # fmt: skip
    add("/hubs/{hub}", send, methods=["POST"], operation_id="sendToHub", tags=tags,
        route_class_override=GuardedRoute, response_class=Response)  # fmt: skip
    add("/hubs/{hub}", disconnect, methods=["DELETE"], operation_id="disconnectHub", tags=tags,
        route_class_override=GuardedRoute, response_class=Response)  # fmt: skip

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with inner(application) as state:
            await server.start(application.state.gateway)
            try:
                yield state
            finally:
                await server.stop()

    app.router.lifespan_context = lifespan
    return server
