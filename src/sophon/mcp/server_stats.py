"""What the Gateway's MCP server counts and whom it tells about catalog changes, kept apart from
the SDK server itself (`own_server`), which is built on the first MCP request."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext

CALLER_KEY = "sophon.mcp.caller"
"""The ASGI scope key under which the endpoint leaves the authenticated `McpCaller`."""


class Stats:
    """Calls served, and the handshake-era connections that listed tools (by tenant), told
    `notifications/tools/list_changed` when that tenant's catalog changes."""

    def __init__(self) -> None:
        self.calls_served = 0
        self.listeners: WeakKeyDictionary[Any, str] = WeakKeyDictionary()

    def listen(self, ctx: ServerRequestContext[Any, Any], tenant_id: str) -> None:
        connection = getattr(ctx.session, "_connection", None)
        if connection is not None and hasattr(connection, "send_tool_list_changed"):
            self.listeners[connection] = tenant_id

    def tools_changed(self, tenant_id: str) -> None:
        for connection, tenant in list(self.listeners.items()):
            if tenant == tenant_id:
                task = asyncio.get_running_loop().create_task(connection.send_tool_list_changed())
                _pending.add(task)
                task.add_done_callback(_pending.discard)


_pending: set[asyncio.Task[None]] = set()
