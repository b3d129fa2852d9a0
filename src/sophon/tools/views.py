"""Shaping tools for the wire."""

from __future__ import annotations

from sophon.tools.registry import Tool
from sophon.tools.schemas import ToolOut


def tool_out(tool: Tool, reason: str | None) -> ToolOut:
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
