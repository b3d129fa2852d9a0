"""The Gateway application: middleware, routers and the lifespan that owns the process parts."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from sophon import __version__
from sophon.gateway import Gateway
from sophon.identity import bootstrap
from sophon.mcp.endpoint import install_mcp
from sophon.models import metadata
from sophon.platform import migrate, route_index
from sophon.platform.docs import OPENAPI_URL, install_docs
from sophon.platform.errors import install_error_handlers
from sophon.platform.middleware import Edge, GatewayApp
from sophon.platform.schemas import ErrorEnvelope
from sophon.platform.server import BEFORE_SHUTDOWN
from sophon.public.router import router as public_router
from sophon.realtime.router import install_hubs
from sophon.settings import Settings
from sophon.web.router import install_web

if TYPE_CHECKING:
    from sophon.runtime.engine import AgentRuntime

log = logging.getLogger("sophon.app")

DESCRIPTION = (
    "Every Sophon feature through one REST API. Errors use the envelope "
    '`{"error": {"code", "message", "details", "requestId"}}`; lists are cursor pages '
    "`{items, nextCursor, hasMore}`."
)


# Each domain's router, built on the first request under its prefix (see route_index): the path
# prefix every route of the router lies under, and where the router is.
ROUTERS = (
    ("/api/auth", "sophon.identity.auth.router:router"),
    ("/api/admin/users", "sophon.identity.users.router:router"),
    ("/api/admin/roles", "sophon.identity.roles.router:router"),
    ("/api/admin/audit", "sophon.audit.router:router"),
    ("/api/admin/license", "sophon.license.router:router"),
    ("/api/admin/tenants", "sophon.tenants.router:router"),
    ("/api/agents", "sophon.agents.router:router"),
    ("/api/models", "sophon.providers.router:router"),
    ("/api/tools", "sophon.tools.router:router"),
    ("/api/chat", "sophon.chat.router:chat_router"),
    ("/api/sessions", "sophon.chat.router:sessions_router"),
    ("/api/tasks", "sophon.tasks.router:router"),
    ("/api/approvals", "sophon.approvals.router:router"),
    ("/api/memory", "sophon.memory.router:router"),
    ("/api/cron", "sophon.cron.router:router"),
    ("/api/workflows", "sophon.workflows.router:router"),
    ("/api/documents", "sophon.documents.router:router"),
    ("/api/skills", "sophon.skills.router:router"),
    ("/api/ops", "sophon.ops.router:router"),
    ("/api/webhooks", "sophon.webhooks.router:router"),
    ("/api/mcp/servers", "sophon.mcp.router:router"),
    ("/api/mcp/server", "sophon.mcp.server_router:router"),
    ("/api/connections", "sophon.connections.router:router"),
)

# imported on a worker thread before the background parts start (see _start_background)
BACKGROUND_MODULES = (
    "sophon.skills.bootstrap",
    "sophon.tools.builtins",  # the catalog's built-in tools, registered on its first use
    "sophon.workflows.tools",
)
WORKER_MODULES = ("sophon.runtime.engine", "sophon.webhooks.dispatcher")


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gateway = Gateway.build(settings)
        app.state.gateway = gateway
        app.state.runtime = None
        app.state.webhooks = None
        await gateway.start()
        if settings.migrate_on_start:
            await migrate.ensure_schema(gateway.db.engine, metadata)
        await bootstrap.prepare(settings, gateway.db)
        app.state.started = asyncio.create_task(_start_background(app, gateway))
        app.state.started.add_done_callback(_report_failure)
        log.info("gateway ready", extra={"database": gateway.db.dialect})
        try:
            yield
        finally:
            gateway.stopping.set()
            await _settle(app.state.started)
            await _stop_runtime(app)
            if app.state.webhooks is not None:
                await app.state.webhooks.stop()
            await gateway.close()
            log.info("gateway stopped")

    app = GatewayApp(
        title="Sophon Gateway",
        version=__version__,
        description=DESCRIPTION,
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    route_index.add_routes(app, public_router)  # the health route: never wait for an import
    for prefix, target in ROUTERS:
        route_index.defer_router(app, prefix, target)
    install_hubs(app)
    install_mcp(app, settings)
    setattr(app.state, BEFORE_SHUTDOWN, [*getattr(app.state, BEFORE_SHUTDOWN, []), _stopping(app)])
    install_docs(app)
    install_web(app)  # last: the app shell answers GET for paths no other route takes
    route_index.install(app.router)
    app.add_middleware(
        Edge, json_limit=settings.max_json_body_bytes, upload_limit=settings.max_upload_bytes
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


async def _start_background(app: FastAPI, gateway: Gateway) -> None:
    """What API requests do not wait for, started while the server begins to listen: links to
    MCP servers, the skills' tools, the agent runtime and webhook deliveries. Their modules are
    imported on a worker thread first, so the event loop keeps answering meanwhile."""
    await asyncio.to_thread(_import_background_modules, gateway.settings.run_workers)
    from sophon.skills import bootstrap as skills_bootstrap

    await gateway.mcp.start()
    await skills_bootstrap.load(gateway.skills, gateway.db, gateway.bus)
    if gateway.settings.run_workers:
        from sophon.runtime.engine import AgentRuntime
        from sophon.webhooks.dispatcher import Dispatcher

        runtime = AgentRuntime(gateway)
        await runtime.start()
        app.state.runtime = runtime
        webhooks = Dispatcher(gateway.db, gateway.bus, gateway.vault, gateway.settings)
        await webhooks.start()
        app.state.webhooks = webhooks
    log.info("background parts started")


def _import_background_modules(run_workers: bool) -> None:
    for module in (*BACKGROUND_MODULES, *WORKER_MODULES) if run_workers else BACKGROUND_MODULES:
        importlib.import_module(module)


def _report_failure(started: asyncio.Task[None]) -> None:
    if not started.cancelled() and (error := started.exception()) is not None:
        log.critical("the background start failed", exc_info=error)


async def _settle(started: asyncio.Task[None]) -> None:
    """Waits for the background start to end, whatever its outcome, before stopping its parts."""
    with contextlib.suppress(Exception):
        await started


async def _stop_runtime(app: FastAPI) -> None:
    """Stops the runtime the app holds (a test may have replaced it): turns go back to the queue."""
    runtime: AgentRuntime | None = getattr(app.state, "runtime", None)
    if runtime is not None:
        await runtime.stop()


def _stopping(app: FastAPI) -> Callable[[], Awaitable[None]]:
    """Tells the Gateway it is stopping before uvicorn waits for open requests to end."""

    async def stopping() -> None:
        gateway: Gateway | None = getattr(app.state, "gateway", None)
        if gateway is not None:
            gateway.stopping.set()

    return stopping


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        route_index.load_all(app.router)
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {})
        envelope = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
        components.setdefault("schemas", {}).update(envelope.pop("$defs"), ErrorEnvelope=envelope)
        components["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "A JWT from POST /api/auth/login, or an sk_ API token.",
            }
        }
        app.openapi_schema = schema
    return app.openapi_schema
