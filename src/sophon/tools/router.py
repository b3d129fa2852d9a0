"""`/api/tools`: the tool catalog (public: the list, not the power to call)."""

from __future__ import annotations

import asyncio

from sophon.platform.access import api_router, public
from sophon.platform.deps import GatewayDep
from sophon.runtime.tools.registry import Tool
from sophon.tools.schemas import ToolOut

router = api_router("/tools", tags=["Tools"])


@router.get("", operation_id="listTools")
@public
async def list_tools(gateway: GatewayDep) -> list[ToolOut]:
    """Every tool this Gateway offers, by name, with its argument schema and risk level."""
    tools = gateway.tools.all()
    # Availability probes may run a process (the sandbox check): off the event loop.
    reasons = await asyncio.to_thread(lambda: [tool.unavailable() for tool in tools])
    return [_tool_out(tool, reason) for tool, reason in zip(tools, reasons, strict=True)]


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
