"""What the Gateway's MCP server counts and whom it tells about catalog changes, kept apart from
the SDK server itself (`own_server`), which is built on the first MCP request."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext

    from sophon.mcp.schemas import ServerConfig

CALLER_KEY = "sophon.mcp.caller"
"""The ASGI scope key under which the endpoint leaves the authenticated `McpCaller`."""


class Stats:
    """Calls served, and the handshake-era connections that listed tools or resources (by
    tenant), told `notifications/tools/list_changed` when that tenant's catalog changes and
    `notifications/{tools,resources}/list_changed` when the exposed set is reconfigured."""

    def __init__(self) -> None:
        self.calls_served = 0
        self.listeners: WeakKeyDictionary[Any, str] = WeakKeyDictionary()

    def listen(self, ctx: ServerRequestContext[Any, Any], tenant_id: str) -> None:
        connection = getattr(ctx.session, "_connection", None)
        if connection is not None and hasattr(connection, "send_tool_list_changed"):
            self.listeners[connection] = tenant_id

    def _send(self, method: str, tenant_id: str | None) -> None:
        for connection, tenant in list(self.listeners.items()):
            if tenant_id is None or tenant == tenant_id:
                task = asyncio.get_running_loop().create_task(getattr(connection, method)())
                _pending.add(task)
                task.add_done_callback(_pending.discard)

    def tools_changed(self, tenant_id: str) -> None:
        self._send("send_tool_list_changed", tenant_id)

    def config_changed(self, before: ServerConfig, after: ServerConfig) -> None:
        """What is exposed changed for every tenant: tell every listening client."""
        if before.expose.tools != after.expose.tools:
            self._send("send_tool_list_changed", None)
        if before.expose.resources != after.expose.resources:
            self._send("send_resource_list_changed", None)


_pending: set[asyncio.Task[None]] = set()
