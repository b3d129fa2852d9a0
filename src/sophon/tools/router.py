"""`/api/tools`: the tool catalog (public: the list, not the power to call)."""

from __future__ import annotations

import asyncio

from sophon.deps import GatewayDep, PageDep
from sophon.platform.access import api_router, public
from sophon.platform.pagination import Page
from sophon.runtime.tools.registry import Tool
from sophon.tools.schemas import ToolOut

router = api_router("/tools", tags=["Tools"])


@router.get("", operation_id="listTools")
@public
async def list_tools(gateway: GatewayDep, page: PageDep) -> Page[ToolOut]:
    """Every tool this Gateway offers, by name, with its argument schema and risk level."""
    tools, cursor, more = gateway.paginator.page_list(
        gateway.tools.all(), page, "tools", lambda tool: tool.name
    )
    # Availability probes may run a process (the sandbox check): off the event loop.
    reasons = await asyncio.to_thread(lambda: [tool.unavailable() for tool in tools])
    return Page[ToolOut](
        items=[_tool_out(tool, reason) for tool, reason in zip(tools, reasons, strict=True)],
        next_cursor=cursor,
        has_more=more,
    )


def _tool_out(tool: Tool, reason: str | None) -> ToolOut:
    return ToolOut(
        name=tool.name,
        description=tool.description,
        parameters=tool.parameters,
        risk_level=tool.risk,
        source=tool.source,
        editable_at_approval=tool.editable_at_approval,
        available=reason is None,
        unavailable_reason=reason,
    )
