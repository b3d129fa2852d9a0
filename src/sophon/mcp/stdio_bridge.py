"""`sophon mcp serve --stdio`: an MCP server on stdin/stdout (newline-delimited JSON-RPC) that
bridges every request to a Gateway's `/mcp/http` with the SDK's client, so a desktop MCP client
that only launches commands reaches the Gateway's tools with the CLI's identity."""

from __future__ import annotations

from typing import Any

import httpx2
import mcp_types as types
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.stdio import stdio_server

from sophon.mcp.own_server import NOTIFY, SERVER_NAME, SERVER_VERSION


async def serve_stdio(gateway_url: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    timeout = httpx2.Timeout(30.0, read=None)  # a call may wait for an approval
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeout) as http,
        streamable_http_client(f"{gateway_url}/mcp/http", http_client=http) as (read, write),
        ClientSession(read, write) as upstream,
    ):
        await upstream.initialize()

        async def list_tools(
            ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
        ) -> types.ListToolsResult:
            return await upstream.list_tools(params=params)

        async def call_tool(
            ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
        ) -> types.CallToolResult:
            return await upstream.call_tool(params.name, dict(params.arguments or {}))

        async def list_resources(
            ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
        ) -> types.ListResourcesResult:
            return await upstream.list_resources(params=params)

        async def read_resource(
            ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams
        ) -> types.ReadResourceResult:
            return await upstream.read_resource(params.uri)

        server: Server[Any] = Server(
            SERVER_NAME,
            version=SERVER_VERSION,
            on_list_tools=list_tools,
            on_call_tool=call_tool,
            on_list_resources=list_resources,
            on_read_resource=read_resource,
        )
        async with stdio_server() as (stdin, stdout):
            await server.run(stdin, stdout, server.create_initialization_options(NOTIFY))
