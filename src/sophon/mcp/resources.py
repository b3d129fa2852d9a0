"""Resources the Gateway's MCP server offers, each under `expose.resources` and the caller's
rights: `agents/*` (`sophon://agents/<id>`, needs ViewAgents) and `memory/*`
(`sophon://memory/<id>`, the memories the caller may see, needs ViewMemory)."""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types
from mcp.shared.exceptions import MCPError

from sophon.agents import service as agents
from sophon.gateway import Gateway
from sophon.mcp.tokens import McpCaller
from sophon.memory.entries import service as memories
from sophon.memory.entries.access import Actor
from sophon.platform.errors import NotFound
from sophon.platform.permissions import Permission

AGENT_URI, MEMORY_URI = "sophon://agents/", "sophon://memory/"
RESOURCE_NOT_FOUND = -32002  # the MCP specification's code
LIMIT = 200


def _matches(name: str, patterns: list[str]) -> bool:
    return any(
        p == "*" or p == name or (p.endswith("*") and name.startswith(p[:-1])) for p in patterns
    )


def _allowed(caller: McpCaller, expose: list[str], family: str) -> bool:
    needed = Permission.VIEW_AGENTS if family == "agents" else Permission.VIEW_MEMORY
    return caller.principal.can(needed) and _matches(f"{family}/x", expose)


async def list_all(gateway: Gateway, caller: McpCaller, expose: list[str]) -> list[types.Resource]:
    principal = caller.principal
    found: list[types.Resource] = []
    async with gateway.db.transaction(readonly=True, tenant_id=principal.tenant_id) as db:
        if _allowed(caller, expose, "agents"):
            for agent in (await db.scalars(agents.live().limit(LIMIT))).all():
                found.append(
                    types.Resource(
                        uri=f"{AGENT_URI}{agent.id}",
                        name=f"agents/{agent.name}",
                        description=agent.description or None,
                        mime_type="application/json",
                    )
                )
        if _allowed(caller, expose, "memory"):
            stmt = memories.listing(Actor.of(principal), memories.EntryFilter()).limit(LIMIT)
            for entry in (await db.scalars(stmt)).all():
                found.append(
                    types.Resource(
                        uri=f"{MEMORY_URI}{entry.id}",
                        name=f"memory/{entry.id}",
                        description=entry.content[:100],
                        mime_type="application/json",
                    )
                )
    return found


async def read(
    gateway: Gateway, caller: McpCaller, expose: list[str], uri: str
) -> types.ReadResourceResult:
    principal = caller.principal
    body: dict[str, Any]
    async with gateway.db.transaction(readonly=True, tenant_id=principal.tenant_id) as db:
        try:
            if uri.startswith(AGENT_URI) and _allowed(caller, expose, "agents"):
                agent = await agents.get(db, uri[len(AGENT_URI) :])
                body = {"id": agent.id, "name": agent.name, "description": agent.description,
                        "tools": agent.tools}  # fmt: skip
            elif uri.startswith(MEMORY_URI) and _allowed(caller, expose, "memory"):
                entry = await memories.get(db, Actor.of(principal), uri[len(MEMORY_URI) :])
                body = memories.state(entry)
            else:
                raise NotFound
        except NotFound:
            raise MCPError(code=RESOURCE_NOT_FOUND, message=f"No resource {uri}.") from None
    text = json.dumps(body, default=str)
    return types.ReadResourceResult(
        contents=[types.TextResourceContents(uri=uri, mime_type="application/json", text=text)]
    )
