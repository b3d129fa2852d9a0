"""The Gateway's MCP endpoints: streamable HTTP at `/mcp/http` (JSON or SSE responses,
`Mcp-Session-Id`, the stateless 2026-07-28 requests too) and the legacy SSE transport at
`GET /mcp/sse` + `POST /mcp/sse/message`. In front of the SDK's transports, every request is
checked here: a foreign `Origin` is 403 (DNS-rebinding protection), a missing, unknown or revoked
credential is HTTP 401 with a JSON-RPC `-32600` error, on the very next request after a
revocation. The credential is an MCP server token, or a Gateway credential (a JWT or `sk_`
token: what `sophon mcp serve --stdio` uses)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from sophon.gateway import Gateway
from sophon.identity import guard
from sophon.mcp import tokens
from sophon.mcp.server_config import ServerConfigFile
from sophon.mcp.server_stats import CALLER_KEY, Stats
from sophon.mcp.tokens import McpCaller
from sophon.platform.access import GuardedRoute, unlimited
from sophon.platform.errors import DomainError, NotAuthorized, Unauthenticated
from sophon.settings import Settings

if TYPE_CHECKING:
    from mcp.server import Server
    from mcp.server.sse import SseServerTransport
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

log = logging.getLogger("sophon.mcp")
HTTP_PATH, SSE_PATH, SSE_MESSAGE_PATH = "/mcp/http", "/mcp/sse", "/mcp/sse/message"
STATE_KEY = "mcp_server"
CONFIG_CHECK_SECONDS = 1.0
ASGI = Callable[[Scope, Receive, Send], Awaitable[None]]


def _rpc_error(status: int, code: int, message: str) -> JSONResponse:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


class _Delegate(Response):
    """Hands the request over to an ASGI app (an SDK transport) as the route's response."""

    def __init__(self, app: ASGI) -> None:
        self.app = app
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


@dataclass
class _Sdk:
    """The SDK's server and transports. The MCP SDK is the largest import the Gateway has, and
    most deployments never serve MCP, so they are built on the first MCP request."""

    server: Server[Any]
    sessions: StreamableHTTPSessionManager
    sse: SseServerTransport

    @classmethod
    def build(cls, endpoint: McpEndpoint) -> _Sdk:
        from mcp.server.sse import SseServerTransport
        from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

        from sophon.mcp.event_store import MemoryEventStore
        from sophon.mcp.own_server import build_server

        server = build_server(lambda: endpoint.gateway, endpoint.config, endpoint.stats)
        sessions = StreamableHTTPSessionManager(
            app=server, event_store=MemoryEventStore(), session_idle_timeout=1800
        )
        return cls(server, sessions, SseServerTransport(SSE_MESSAGE_PATH))


class McpEndpoint:
    def __init__(self, settings: Settings, app: FastAPI) -> None:
        self.app = app
        self.stats = Stats()
        self.config = ServerConfigFile(settings.data)
        self.sse_connections = 0
        self._sdk: _Sdk | None = None
        self._building = asyncio.Lock()
        self._running = False  # between the app's start-up and its shutdown
        self._stop = asyncio.Event()
        self._sessions_task: asyncio.Task[None] | None = None

    @property
    def gateway(self) -> Gateway:
        gateway: Gateway = self.app.state.gateway
        return gateway

    @property
    def connected_sessions(self) -> int:
        if self._sdk is None:
            return 0
        return len(self._sdk.sessions._server_instances) + self.sse_connections

    async def sdk(self) -> _Sdk:
        """The SDK's parts, built and their session manager started on first use."""
        if self._sdk is not None:
            return self._sdk
        async with self._building:
            if self._sdk is None:
                if not self._running:
                    raise RuntimeError("the MCP endpoint is not running")
                sdk = _Sdk.build(self)
                started = asyncio.get_running_loop().create_future()
                task = asyncio.create_task(self._run_sessions(sdk, started), name="mcp-sessions")
                self._sessions_task = task
                await asyncio.wait([started, task], return_when=asyncio.FIRST_COMPLETED)
                if task.done():
                    task.result()  # start-up failed: raise its error here
                self._sdk = sdk
        return self._sdk

    async def _run_sessions(self, sdk: _Sdk, started: asyncio.Future[None]) -> None:
        """Holds the session manager's task group open (in one task, as anyio requires) until
        the app shuts down."""
        async with sdk.sessions.run():
            started.set_result(None)
            await self._stop.wait()

    async def _caller(self, request: Request) -> McpCaller:
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthenticated("Send 'Authorization: Bearer <token>'.")
        credential = credential.strip()
        gateway = self.gateway
        async with gateway.db.transaction() as db:
            if tokens.is_mcp_token(credential):
                return await tokens.authenticate(db, credential)
            found = await guard.resolve(request, db, gateway, credential, None)
            return McpCaller(found.principal, None, None)

    def gate(self, request: Request, transport: str, inner: Callable[[_Sdk], ASGI]) -> Response:
        """The checks in front of a transport; the response is the transport's own."""

        async def checked(scope: Scope, receive: Receive, send: Send) -> None:
            refusal = await self._refusal(request, transport, scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            await inner(await self.sdk())(scope, receive, send)

        return _Delegate(checked)

    async def _refusal(self, request: Request, transport: str, scope: Scope) -> Response | None:
        origin = request.headers.get("origin")
        if origin and urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
            return _rpc_error(403, -32600, "Requests from a foreign Origin are refused.")
        config = self.config.current()
        settings = config.transports.get(transport)  # type: ignore[call-overload]
        if not config.enabled or (settings is not None and not settings.enabled):
            return _rpc_error(404, -32600, f"The MCP {transport} transport is disabled.")
        try:
            caller = await self._caller(request)
        except (Unauthenticated, NotAuthorized) as refused:
            return _rpc_error(401, -32600, refused.message)
        except DomainError as refused:  # too many refused credentials: 429
            return _rpc_error(refused.status, -32600, refused.message)
        from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
        from mcp.server.auth.provider import AccessToken

        scope[CALLER_KEY] = caller
        principal = caller.principal
        credential = caller.token_id or principal.session_id or principal.token_id or "local"
        scope["user"] = AuthenticatedUser(
            AccessToken(
                token=credential, client_id=f"{principal.user_id}", scopes=[], subject=credential
            )
        )
        return None

    async def sse_stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        from sophon.mcp.own_server import NOTIFY

        sdk = await self.sdk()
        self.sse_connections += 1
        try:
            async with sdk.sse.connect_sse(scope, receive, send) as (read, write):
                options = sdk.server.create_initialization_options(NOTIFY)
                await sdk.server.run(read, write, options)
        finally:
            self.sse_connections -= 1

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        watchers = self.gateway.mcp.watchers
        watchers.append(self.stats.tools_changed)
        self._building, self._stop = asyncio.Lock(), asyncio.Event()  # this loop's
        self._running = True
        self.config.on_change = self.stats.config_changed
        watching = asyncio.create_task(self._watch_config(), name="mcp-server-config")
        try:
            yield
        finally:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
            self.config.on_change = None
            watchers.remove(self.stats.tools_changed)
            async with self._building:  # no start-up half done
                self._running = False
                self._stop.set()
            if self._sessions_task is not None:
                await self._sessions_task
            self._sdk, self._sessions_task = None, None  # a session manager runs only once

    async def _watch_config(self) -> None:
        """An edit of `mcp-server.json` reaches listening clients as list_changed."""
        while True:
            await asyncio.sleep(CONFIG_CHECK_SECONDS)
            self.config.current()


def endpoint_of(app: FastAPI) -> McpEndpoint:
    endpoint: McpEndpoint = getattr(app.state, STATE_KEY)
    return endpoint


def install_mcp(app: FastAPI, settings: Settings) -> McpEndpoint:
    """Adds the MCP routes and runs the streamable HTTP sessions for the app's lifetime."""
    endpoint = McpEndpoint(settings, app)
    setattr(app.state, STATE_KEY, endpoint)

    @unlimited
    async def streamable_http(request: Request) -> Response:
        """The MCP streamable HTTP transport (MCP clients only)."""
        return endpoint.gate(request, "streamableHttp", lambda sdk: sdk.sessions.handle_request)

    @unlimited
    async def sse_stream(request: Request) -> Response:
        """The legacy MCP SSE transport's event stream (MCP clients only)."""
        return endpoint.gate(request, "sse", lambda _sdk: endpoint.sse_stream)

    @unlimited
    async def sse_message(request: Request) -> Response:
        """The legacy MCP SSE transport's message endpoint (MCP clients only)."""
        return endpoint.gate(request, "sse", lambda sdk: sdk.sse.handle_post_message)

    # MCP transports speak JSON-RPC as the MCP specification defines it, not the REST API's
    # contract (error envelope, cursor pages): they stay out of the OpenAPI document
    def add(path: str, endpoint_: Any, method: str, operation_id: str) -> None:
        app.router.add_api_route(
            path,
            endpoint_,
            methods=[method],
            operation_id=operation_id,
            include_in_schema=False,
            route_class_override=GuardedRoute,
            response_class=Response,
        )

    for method in ("POST", "GET", "DELETE"):
        add(HTTP_PATH, streamable_http, method, f"mcpStreamableHttp{method.title()}")
    add(SSE_PATH, sse_stream, "GET", "mcpSseStream")
    add(SSE_MESSAGE_PATH, sse_message, "POST", "mcpSseMessage")

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with inner(application) as state, endpoint.running():
            yield state

    app.router.lifespan_context = lifespan
    return endpoint
