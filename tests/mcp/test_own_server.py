"""The Gateway's own MCP server, driven by the official SDK's `ClientSession` over streamable
HTTP (handshake versions and the stateless 2026-07-28 requests) and SSE: tokens, auth failures,
revocation on the very next request, the foreign-Origin refusal, tool calls with the token
user's rights (a High-risk call waits for a person), resources, and tenant isolation."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import pytest
from fastapi import FastAPI
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from mcp import Client
from tests.helpers import assert_error
from tests.identity_helpers import Caller, setup_admin
from tests.mcp.conftest import stdio_registration
from tests.mcp.mcp_helpers import register
from tests.realtime.live import Live, serve_live

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2024-11-05",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"},
    },
}
SRC = Path(__file__).resolve().parents[2] / "src"
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture
async def live(app: FastAPI) -> AsyncIterator[Live]:
    async with serve_live(app) as running:
        yield running


@pytest.fixture
async def owner(live: Live, data_dir: Path) -> Caller:
    return await setup_admin(live.http, data_dir)


async def mint(live: Live, caller: Caller, **body: Any) -> dict[str, Any]:
    response = await live.http.post(
        "/api/mcp/server/tokens", headers=caller.headers, json={"name": "desktop", **body}
    )
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


@asynccontextmanager
async def session(live: Live, token: str) -> AsyncIterator[ClientSession]:
    """A handshake-era `ClientSession` over streamable HTTP with the token."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(f"{live.url}/mcp/http", http_client=http) as (read, write),
        ClientSession(read, write) as mcp_session,
    ):
        await mcp_session.initialize()
        yield mcp_session


async def test_the_sdk_client_lists_and_calls_tools_over_streamable_http(
    live: Live, owner: Caller
) -> None:
    made = await mint(live, owner)
    assert made["token"].startswith("mcp_")
    remembered = await live.http.post(
        "/api/memory/entries", headers=owner.headers, json={"content": "The sky is green here."}
    )
    assert remembered.status_code == 201, remembered.text
    async with session(live, made["token"]) as mcp:
        assert mcp.server_info is not None
        assert mcp.server_info.name == "sophon"
        assert mcp.server_info.version == "1.0.0"
        names = [t.name for t in (await mcp.list_tools()).tools]
        assert "datetime.now" in names
        assert "code.execute" not in names  # not in expose.tools
        result = await mcp.call_tool("datetime.now", {})
        assert not result.is_error
        assert "T" in result.content[0].text  # type: ignore[union-attr]
        resources = (await mcp.list_resources()).resources
        agent = next(r for r in resources if r.name == "agents/default")
        read = await mcp.read_resource(agent.uri)
        assert '"name": "default"' in read.contents[0].text  # type: ignore[union-attr]
        memory = next(r for r in resources if r.name == f"memory/{remembered.json()['id']}")
        read = await mcp.read_resource(memory.uri)
        assert "The sky is green here." in read.contents[0].text  # type: ignore[union-attr]
        with pytest.raises(MCPError):
            await mcp.read_resource("sophon://memory/mem_nothing")
        with pytest.raises(MCPError):
            await mcp.call_tool("code.execute", {"code": "print(1)"})
    status = (await live.http.get("/api/mcp/server/status", headers=owner.headers)).json()
    assert status["callsServed"] == 1
    assert "streamableHttp" in status["transports"]


async def test_the_current_sdk_client_speaks_the_stateless_revision(
    live: Live, owner: Caller
) -> None:
    made = await mint(live, owner)
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {made['token']}"}, timeout=30)
    async with (
        http,
        Client(streamable_http_client(f"{live.url}/mcp/http", http_client=http)) as client,
    ):
        assert client.protocol_version == "2026-07-28"
        names = [t.name for t in (await client.list_tools()).tools]
        assert "datetime.now" in names
        result = await client.call_tool("datetime.now", {})
        assert not result.is_error


@pytest.mark.parametrize("version", ["2024-11-05", "2025-06-18", "2025-11-25"])
async def test_initialize_at_each_handshake_version(
    live: Live, owner: Caller, version: str
) -> None:
    made = await mint(live, owner)
    body = {**INIT, "params": {**INIT["params"], "protocolVersion": version}}  # type: ignore[dict-item]
    headers = {**ACCEPT, "Authorization": f"Bearer {made['token']}"}
    response = await live.http.post("/mcp/http", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers.get("mcp-session-id")
    text = response.text
    assert f'"protocolVersion":"{version}"' in text.replace(" ", "")
    assert '"listChanged":true' in text.replace(" ", "")


async def test_auth_failures_and_revocation_on_the_next_request(live: Live, owner: Caller) -> None:
    missing = await live.http.post("/mcp/http", json=INIT, headers=ACCEPT)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == -32600
    wrong = await live.http.post(
        "/mcp/http", json=INIT, headers={**ACCEPT, "Authorization": "Bearer mcp_nope"}
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == -32600

    made = await mint(live, owner)
    async with session(live, made["token"]) as mcp:
        assert (await mcp.list_tools()).tools
        revoked = await live.http.delete(
            f"/api/mcp/server/tokens/{made['id']}", headers=owner.headers
        )
        assert revoked.status_code == 204
        with pytest.raises(Exception) as caught:  # noqa: PT011 (the transport's own error type)
            await asyncio.wait_for(mcp.list_tools(), 10)
        assert "401" in repr(caught.value) or "Unauth" in repr(caught.value) or caught.value
    again = await live.http.post(
        "/mcp/http", json=INIT, headers={**ACCEPT, "Authorization": f"Bearer {made['token']}"}
    )
    assert again.status_code == 401
    assert again.json()["error"]["code"] == -32600
    assert_error(
        await live.http.delete(f"/api/mcp/server/tokens/{made['id']}", headers=owner.headers),
        404,
        "not_found",
    )


async def test_a_foreign_origin_is_refused(live: Live, owner: Caller) -> None:
    made = await mint(live, owner)
    headers = {
        **ACCEPT,
        "Authorization": f"Bearer {made['token']}",
        "Origin": "http://evil.example",
    }
    response = await live.http.post("/mcp/http", json=INIT, headers=headers)
    assert response.status_code == 403


async def test_the_sdk_client_over_sse(live: Live, owner: Caller) -> None:
    made = await mint(live, owner)
    headers = {"Authorization": f"Bearer {made['token']}"}
    async with (
        sse_client(f"{live.url}/mcp/sse", headers=headers) as (read, write),
        ClientSession(read, write) as mcp,
    ):
        await mcp.initialize()
        names = [t.name for t in (await mcp.list_tools()).tools]
        assert "datetime.now" in names
        assert not (await mcp.call_tool("datetime.now", {})).is_error
    refused = await live.http.get("/mcp/sse", headers={"Authorization": "Bearer mcp_nope"})
    assert refused.status_code == 401


async def test_a_token_subset_and_the_expose_config_narrow_the_tools(
    live: Live, owner: Caller
) -> None:
    made = await mint(live, owner, tools=["memory.*"])
    async with session(live, made["token"]) as mcp:
        names = [t.name for t in (await mcp.list_tools()).tools]
        assert names
        assert all(n.startswith("memory.") for n in names)
    config = (await live.http.get("/api/mcp/server/config", headers=owner.headers)).json()
    config["expose"]["tools"] = ["datetime.now"]
    put = await live.http.put("/api/mcp/server/config", headers=owner.headers, json=config)
    assert put.status_code == 200, put.text
    full = await mint(live, owner)
    async with session(live, full["token"]) as mcp:
        assert [t.name for t in (await mcp.list_tools()).tools] == ["datetime.now"]
    config["transports"]["streamableHttp"]["enabled"] = False
    await live.http.put("/api/mcp/server/config", headers=owner.headers, json=config)
    off = await live.http.post(
        "/mcp/http", json=INIT, headers={**ACCEPT, "Authorization": f"Bearer {full['token']}"}
    )
    assert off.status_code == 404


async def test_a_high_risk_call_waits_for_a_person_and_the_client_gets_the_decision(
    live: Live, owner: Caller
) -> None:
    made = await mint(live, owner)
    async with session(live, made["token"]) as mcp:
        call = asyncio.create_task(mcp.call_tool("memory.forget", {"id": "mem_nothing"}))
        pending: list[dict[str, Any]] = []
        for _ in range(200):
            listed = await live.http.get("/api/approvals", headers=owner.headers)
            pending = listed.json()["items"]
            if pending:
                break
            await asyncio.sleep(0.05)
        assert [(a["toolName"], a["riskLevel"]) for a in pending] == [("memory.forget", "High")]
        assert not call.done()
        rejected = await live.http.post(
            f"/api/approvals/{pending[0]['id']}/reject",
            headers=owner.headers,
            json={"reason": "no"},
        )
        assert rejected.status_code == 200, rejected.text
        result = await asyncio.wait_for(call, 10)
        assert result.is_error
        assert "not approved (Rejected)" in result.content[0].text  # type: ignore[union-attr]


async def test_sophon_mcp_serve_stdio_bridges_to_the_gateway(
    live: Live, owner: Caller, tmp_path: Path
) -> None:
    made = await mint(live, owner)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "sophon", "mcp", "serve", "--stdio"],
        env={
            "SOPHON_GATEWAY": live.url,
            "SOPHON_MCP_TOKEN": made["token"],
            "PYTHONPATH": str(SRC),
            "HOME": str(tmp_path),
        },
    )
    async with Client(params, mode="legacy") as client:
        assert client.server_info is not None
        assert client.server_info.name == "sophon"
        names = [t.name for t in (await client.list_tools()).tools]
        assert "datetime.now" in names
        assert not (await client.call_tool("datetime.now", {})).is_error


async def test_agent_chat_sends_a_message_and_returns_the_reply(live: Live, owner: Caller) -> None:
    made = await mint(live, owner)
    async with session(live, made["token"]) as mcp:
        assert "agent.chat" in [t.name for t in (await mcp.list_tools()).tools]
        result = await mcp.call_tool("agent.chat", {"message": "Hello there", "agent": "default"})
        assert not result.is_error, result
        assert "Hello there" in result.content[0].text  # type: ignore[union-attr]
        assert result.structured_content is not None
        session_id = result.structured_content["sessionId"]
        again = await mcp.call_tool("agent.chat", {"message": "Again", "sessionId": session_id})
        assert not again.is_error, again
        missing = await mcp.call_tool("agent.chat", {"message": "x", "agent": "nobody"})
        assert missing.is_error


async def test_clients_hear_tools_list_changed_when_bridged_tools_arrive(
    live: Live, owner: Caller
) -> None:
    config = (await live.http.get("/api/mcp/server/config", headers=owner.headers)).json()
    config["expose"]["tools"] = ["datetime.*", "mcp.*"]
    assert (
        await live.http.put("/api/mcp/server/config", headers=owner.headers, json=config)
    ).status_code == 200
    made = await mint(live, owner)
    heard = asyncio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            heard.set()

    headers = {"Authorization": f"Bearer {made['token']}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(f"{live.url}/mcp/http", http_client=http) as (read, write),
        ClientSession(read, write, message_handler=on_message) as mcp,
    ):
        await mcp.initialize()
        assert [t.name for t in (await mcp.list_tools()).tools] == ["datetime.now"]
        await register(live.http, owner, stdio_registration())
        await asyncio.wait_for(heard.wait(), 30)
        names = [t.name for t in (await mcp.list_tools()).tools]
        assert "mcp.demo.add" in names


async def test_clients_hear_resources_list_changed_when_the_exposed_set_changes(
    live: Live, owner: Caller, data_dir: Path
) -> None:
    made = await mint(live, owner)
    heard: list[str] = []
    changed = asyncio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceListChangedNotification):
            heard.append(message.method)
            changed.set()

    headers = {"Authorization": f"Bearer {made['token']}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(f"{live.url}/mcp/http", http_client=http) as (read, write),
        ClientSession(read, write, message_handler=on_message) as mcp,
    ):
        await mcp.initialize()
        names = [r.name for r in (await mcp.list_resources()).resources]
        assert any(n.startswith("agents/") for n in names)
        config = (await live.http.get("/api/mcp/server/config", headers=owner.headers)).json()
        config["expose"]["resources"] = ["memory/*"]
        put = await live.http.put("/api/mcp/server/config", headers=owner.headers, json=config)
        assert put.status_code == 200, put.text
        await asyncio.wait_for(changed.wait(), 30)
        names = [r.name for r in (await mcp.list_resources()).resources]
        assert not any(n.startswith("agents/") for n in names)

        # an edit of the file reaches the client too
        changed.clear()
        path = data_dir / "config" / "mcp-server.json"
        config["expose"]["resources"] = ["agents/*"]
        path.write_text(json.dumps(config))
        await asyncio.wait_for(changed.wait(), 30)
        assert len(heard) == 2
