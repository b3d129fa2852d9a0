"""The SDK's own minimal MCP server, for the `mcp` benchmark's baseline: one tool, `datetime.now`,
over streamable HTTP on `--port`, served by uvicorn as the Gateway is. `GET /api/health` answers
200 so the harness sees it is up."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.responses import JSONResponse


async def _health(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    server = MCPServer("baseline")

    @server.tool(name="datetime.now")
    def now() -> str:
        """The current time."""
        return datetime.now(UTC).isoformat()

    server.custom_route("/api/health", methods=["GET"])(_health)
    app = server.streamable_http_app()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
