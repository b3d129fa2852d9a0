"""The Gateway as an MCP server: the low-level SDK `Server` with handlers for tools (catalog
tools matching `expose.tools`, narrowed by the token's subset, run with the token user's rights
through the same approval gate) and resources (`agents/*`). Every handler reads who is calling
from the HTTP request the transport attached (`sophon.endpoint` authenticated it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.models import InitializationOptions
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from sophon import __version__
from sophon.approvals import service as approvals
from sophon.approvals.gate import wait_for_decision
from sophon.approvals.models import ApprovalStatus
from sophon.gateway import Gateway
from sophon.mcp import agent_chat, resources
from sophon.mcp.server_config import ServerConfigFile
from sophon.mcp.server_stats import CALLER_KEY, Stats
from sophon.mcp.tokens import McpCaller
from sophon.platform.permissions import Permission
from sophon.tools.invoke import (
    InvalidToolArguments,
    ToolContext,
    ToolResult,
    run_tool,
    validate_arguments,
)
from sophon.tools.registry import RiskLevel, Tool

SERVER_NAME, SERVER_VERSION = "sophon", "1.0.0"
NOTIFY = NotificationOptions(prompts_changed=True, resources_changed=True, tools_changed=True)


def matches(name: str, patterns: Iterable[str]) -> bool:
    """Exact names, `prefix.*` / `prefix/*` globs, or `*`."""
    for pattern in patterns:
        if pattern == "*" or pattern == name:
            return True
        if pattern.endswith("*") and name.startswith(pattern[:-1]):
            return True
    return False


class _SophonServer(Server[Any]):
    """Announces `listChanged` for tools, resources and prompts on every transport."""

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or NOTIFY, experimental_capabilities, extensions
        )


def caller_of(ctx: ServerRequestContext[Any, Any]) -> McpCaller:
    request = ctx.request
    caller = request.scope.get(CALLER_KEY) if request is not None else None
    if not isinstance(caller, McpCaller):  # the endpoint authenticates every request
        raise MCPError(code=types.INVALID_REQUEST, message="Unauthenticated.")
    return caller


def exposed_tools(gateway: Gateway, config: ServerConfigFile, caller: McpCaller) -> list[Tool]:
    principal = caller.principal
    if not principal.can(Permission.USE_CHAT):
        return []
    expose = config.current().expose.tools
    offered = [*gateway.tools.for_tenant(principal.tenant_id).all(), agent_chat.TOOL]
    return [
        tool
        for tool in offered
        if matches(tool.name, expose) and (caller.tools is None or matches(tool.name, caller.tools))
    ]


def _wire_tool(tool: Tool) -> types.Tool:
    return types.Tool(
        name=tool.name,
        description=tool.description,
        input_schema=tool.parameters,
        annotations=types.ToolAnnotations(
            read_only_hint=tool.risk.rank <= RiskLevel.LOW.rank,
            destructive_hint=tool.risk.at_least(RiskLevel.HIGH),
        ),
    )


def _result(result: ToolResult) -> types.CallToolResult:
    structured = dict(result.data) if result.data is not None and not result.is_error else None
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=result.content)],
        structured_content=structured,
        is_error=result.is_error,
    )


def build_server(
    gateway_of: Callable[[], Gateway], config: ServerConfigFile, stats: Stats
) -> Server[Any]:
    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        caller = caller_of(ctx)
        stats.listen(ctx, caller.principal.tenant_id)
        tools = exposed_tools(gateway_of(), config, caller)
        return types.ListToolsResult(tools=[_wire_tool(t) for t in tools])

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        gateway, caller = gateway_of(), caller_of(ctx)
        found = {t.name: t for t in exposed_tools(gateway, config, caller)}
        tool = found.get(params.name)
        if tool is None:
            raise MCPError(code=INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        stats.calls_served += 1
        return _result(await _call(gateway, caller, tool, dict(params.arguments or {})))

    async def list_resources(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        expose = config.current().expose.resources
        caller = caller_of(ctx)
        stats.listen(ctx, caller.principal.tenant_id)
        found = await resources.list_all(gateway_of(), caller, expose)
        return types.ListResourcesResult(resources=found)

    async def read_resource(
        ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        expose = config.current().expose.resources
        return await resources.read(gateway_of(), caller_of(ctx), expose, str(params.uri))

    async def subscribe(
        ctx: ServerRequestContext[Any, Any], params: types.SubscribeRequestParams
    ) -> types.EmptyResult:
        caller_of(ctx)
        return types.EmptyResult()

    async def unsubscribe(
        ctx: ServerRequestContext[Any, Any], params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        caller_of(ctx)
        return types.EmptyResult()

    async def list_prompts(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        caller_of(ctx)
        return types.ListPromptsResult(prompts=[])

    return _SophonServer(
        SERVER_NAME,
        version=SERVER_VERSION,
        description=f"Sophon Gateway {__version__}",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
        on_subscribe_resource=subscribe,
        on_unsubscribe_resource=unsubscribe,
        on_list_prompts=list_prompts,
    )


async def _call(
    gateway: Gateway, caller: McpCaller, tool: Tool, arguments: dict[str, Any]
) -> ToolResult:
    """Runs the tool with the caller's rights; High risk and above first waits for a person."""
    principal = caller.principal
    settings = gateway.settings
    try:
        checked = validate_arguments(tool, arguments)
    except InvalidToolArguments as invalid:
        return ToolResult.error(invalid.message, invalid.details)
    if tool.risk.at_least(RiskLevel.HIGH):
        timeout = settings.approval_timeouts.get(tool.name, settings.approval_timeout_seconds)
        async with gateway.db.transaction(tenant_id=principal.tenant_id) as db:
            approval = approvals.create(
                db, kind=approvals.KIND_TOOL, tool_name=tool.name, risk_level=tool.risk.value,
                arguments=checked, timeout_seconds=timeout, user_id=principal.user_id,
                editable=tool.editable_at_approval,
            )  # fmt: skip
            approval_id = approval.id
        decided = await wait_for_decision(
            gateway.db, gateway.bus, principal.tenant_id, approval_id, asyncio.Event()
        )
        if decided is None or decided.status != ApprovalStatus.APPROVED.value:
            status = decided.status if decided is not None else "withdrawn"
            return ToolResult.error(f"The call to {tool.name} was not approved ({status}).")
        checked = decided.approved_arguments or decided.arguments
    if tool.name == agent_chat.NAME:
        return await agent_chat.chat_with_agent(gateway, principal, checked)
    context = ToolContext(
        settings=settings,
        principal_id=principal.user_id,
        tenant_id=principal.tenant_id,
        deadline=time.monotonic() + settings.tool_timeout_seconds,
        database=gateway.db,
    )
    return await run_tool(tool, context, checked)
