"""`sophon mcp servers list|test`, `mcp tokens create|list|revoke`, `mcp serve --stdio`."""

from __future__ import annotations

import os
from typing import Annotated
from urllib.parse import quote

import typer

from sophon.cli.core import new_app
from sophon.cli.errors import EXIT_ERROR, EXIT_USAGE, CliError, fail
from sophon.cli.listing import AllOpt, CursorOpt, LimitOpt, progress, show_page
from sophon.cli.runtime import runtime

app = new_app("MCP: external MCP servers bridged in as tools, and the Gateway's own MCP server.")
servers_app = new_app("External MCP servers (their tools are `mcp.<server>.<tool>`).")
tokens_app = new_app("Tokens for MCP clients of the Gateway's own MCP server.")
app.add_typer(servers_app, name="servers")
app.add_typer(tokens_app, name="tokens")

SERVER_COLUMNS = [
    ("id", "id"),
    ("name", "name"),
    ("transport", "transport"),
    ("status", "status"),
    ("tools", "toolCount"),
    ("enabled", "enabled"),
    ("error", "lastError"),
]
TOKEN_COLUMNS = [("id", "id"), ("name", "name"), ("prefix", "prefix"), ("tools", "tools")]


def _server_id(ref: str) -> str:
    for page in runtime().api.pages("/api/mcp/servers", limit=200):
        for server in page.items:
            if ref in (server["id"], server["name"]):
                return str(server["id"])
    raise CliError(f"no MCP server {ref!r}")


@servers_app.command("list")
def list_servers(
    limit: LimitOpt = 50, cursor: CursorOpt = None, everything: AllOpt = False
) -> None:
    """The tenant's MCP servers with their connection status."""
    show_page("/api/mcp/servers", SERVER_COLUMNS, limit=limit, cursor=cursor, everything=everything)


@servers_app.command("test")
def test_server(server: Annotated[str, typer.Argument(help="Server id or name.")]) -> None:
    """Connect, initialize and list what the server offers; exit 1 when it fails."""
    rt = runtime()
    path = f"/api/mcp/servers/{quote(_server_id(server), safe='')}/test"
    with progress(rt, f"Testing {server}…"):
        result = rt.api.post(path, timeout=120.0)
    rt.out.record(
        result,
        [
            ("ok", "ok"),
            ("latency ms", "latencyMs"),
            ("server", "serverName"),
            ("protocol", "protocolVersion"),
            ("tools", "tools"),
            ("error", "error"),
        ],
    )
    if not result.get("ok"):
        raise typer.Exit(EXIT_ERROR)


@tokens_app.command("list")
def list_tokens(limit: LimitOpt = 50, cursor: CursorOpt = None, everything: AllOpt = False) -> None:
    """The tenant's MCP server tokens (never their secrets)."""
    show_page(
        "/api/mcp/server/tokens", TOKEN_COLUMNS, limit=limit, cursor=cursor, everything=everything
    )


@tokens_app.command("create")
def create_token(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. claude-desktop.")],
    tool: Annotated[
        list[str] | None, typer.Option("--tool", help="Limit to a tool name or glob; repeat.")
    ] = None,
) -> None:
    """Make a token for an MCP client; the secret is shown once."""
    rt = runtime()
    body: dict[str, object] = {"name": name}
    if tool:
        body["tools"] = tool
    made = rt.api.post("/api/mcp/server/tokens", json=body)
    rt.out.record(made, [*TOKEN_COLUMNS, ("token", "token")])


@tokens_app.command("revoke")
def revoke_token(token_id: Annotated[str, typer.Argument(help="Token id.")]) -> None:
    """Revoke a token: its next request is refused."""
    rt = runtime()
    rt.api.delete(f"/api/mcp/server/tokens/{quote(token_id, safe='')}")
    rt.out.text(f"Revoked {token_id}")


@app.command("serve")
def serve(
    stdio: Annotated[bool, typer.Option("--stdio", help="Speak MCP on stdin/stdout.")] = False,
) -> None:
    """Serve the Gateway's MCP server on stdin/stdout for MCP clients that launch a command.
    The Gateway is `SOPHON_GATEWAY` (or --gateway-url); the credential is `SOPHON_MCP_TOKEN`
    (an MCP token or an `sk_` API token), else the CLI's login."""
    if not stdio:
        fail(
            "only --stdio is served by this command (HTTP is at the Gateway's /mcp/http)",
            EXIT_USAGE,
        )
    import anyio

    from sophon.mcp.stdio_bridge import serve_stdio

    rt = runtime()
    token = os.environ.get("SOPHON_MCP_TOKEN") or rt.config.get("authToken")
    if not token:
        fail("no credential: set SOPHON_MCP_TOKEN or run `sophon login`", EXIT_USAGE)
    anyio.run(serve_stdio, rt.gateway_url, str(token))
