"""Shaping registrations and bridged tools for the wire (secrets masked)."""

from __future__ import annotations

from sophon.mcp.bridge import bridged_name, risk_of, schema_of
from sophon.mcp.hub import McpHub, runnable
from sophon.mcp.models import McpServerRegistration
from sophon.mcp.schemas import MASK, AuthOut, BridgedToolOut, McpServerOut


def server_out(row: McpServerRegistration, hub: McpHub) -> McpServerOut:
    link = hub.link(row.id)
    if not row.enabled:
        status, error = "disabled", None
    elif not runnable(row):
        status, error = "awaiting_approval", None
    elif link is None:
        status, error = "connecting", None
    else:
        status, error = link.state, link.error
    tools = link.found.tools if link is not None else []
    return McpServerOut(
        id=row.id,
        name=row.name,
        transport=row.transport,
        command=row.command,
        args=list(row.args or []),
        env=dict.fromkeys(row.env_keys or [], MASK),
        url=row.url,
        auth=AuthOut(type=row.auth_type, header=row.auth_header, secret=row.auth_mask),
        excluded_tools=list(row.excluded_tools or []),
        risk_overrides=dict(row.risk_overrides or {}),
        enabled=row.enabled,
        timeout_seconds=row.timeout_seconds,
        sandbox=row.sandbox,
        status=status,
        approval_id=row.approval_id,
        last_error=error,
        tool_count=len(tools),
        resources=list(link.found.resource_uris) if link is not None else [],
        prompts=list(link.found.prompt_names) if link is not None else [],
        problems=dict(link.problems) if link is not None else {},
        changed_tools=sorted(link.changed) if link is not None else [],
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def tools_out(row: McpServerRegistration, hub: McpHub) -> list[BridgedToolOut]:
    link = hub.link(row.id)
    if link is None:
        return []
    excluded = set(row.excluded_tools or [])
    out = []
    for tool in link.found.tools:
        if tool.name in link.problems:
            continue
        reason = link.unavailable(tool.name)
        out.append(
            BridgedToolOut(
                name=bridged_name(row.name, tool.name),
                server_tool=tool.name,
                description=tool.description or "",
                parameters=schema_of(tool),
                risk_level=risk_of(tool, row.risk_overrides or {}),
                excluded=tool.name in excluded,
                available=reason is None and tool.name not in excluded,
                unavailable_reason="excluded by the registration"
                if tool.name in excluded
                else reason,
            )
        )
    return out
