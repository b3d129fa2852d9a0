"""`/api/tools`: the tool catalog (public: the list, not the power to call)."""

from __future__ import annotations

import asyncio

from sophon.deps import GatewayDep, PageDep
from sophon.platform.access import api_router, public
from sophon.platform.pagination import Page
from sophon.tools.schemas import ToolOut
from sophon.tools.views import tool_out

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
        items=[tool_out(tool, reason) for tool, reason in zip(tools, reasons, strict=True)],
        next_cursor=cursor,
        has_more=more,
    )
