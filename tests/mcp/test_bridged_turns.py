"""Bridged MCP tools in agent turns, with the loopback OpenAI-compatible model calling
`mcp.<server>.<tool>` (wire name `mcp__demo__add`): results wrapped as external content from
`mcp:<server>`, the approval gate on a destructive tool, list_changed, timeouts, a crashing
server, and the rug-pull defence."""

from __future__ import annotations

from typing import Any

import httpx

from sophon.gateway import Gateway
from tests.chat.chat_helpers import EventLog, chat_turn, messages, pending_approval, send, wait_task
from tests.identity_helpers import Caller
from tests.llm.fakes import FakeServer, JsonReply, openai_completion, openai_tool_call
from tests.mcp.conftest import stdio_registration
from tests.mcp.mcp_helpers import catalog_names, register, wait_link, wait_status

CHAT = "/v1/chat/completions"


def call(name: str, arguments: str) -> JsonReply:
    return JsonReply(
        openai_completion(None, [openai_tool_call("call_1", name, arguments)], "tool_calls")
    )


async def _allow(client: httpx.AsyncClient, admin: Caller, agent_id: str, *tools: str) -> None:
    response = await client.put(
        f"/api/agents/{agent_id}/tools", headers=admin.headers, json={"tools": list(tools)}
    )
    assert response.status_code == 200, response.text


async def _demo(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway, **fields: Any
) -> dict[str, Any]:
    created = await register(client, admin, stdio_registration(**fields))
    return await wait_status(client, admin, gateway, created["id"], tools=7)


async def test_a_model_turn_calls_a_bridged_tool_over_stdio(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, model: FakeServer, gateway: Gateway
) -> None:
    await _demo(client, admin, gateway)
    await _allow(client, admin, agent_id, "mcp.demo.*")
    model.script(
        "POST",
        CHAT,
        call("mcp__demo__add", '{"a": 2, "b": 40}'),
        JsonReply(openai_completion("42.")),
    )
    accepted, task = await chat_turn(client, admin, "Add 2 and 40.", isStreaming=False)
    assert task["status"] == "Completed", (task.get("error"), task.get("errorCode"))
    first, second = (r.json() for r in model.received(CHAT))
    offered = [t["function"]["name"] for t in first["tools"]]
    assert "mcp__demo__add" in offered
    result = second["messages"][-1]
    assert result["role"] == "tool"
    assert result["content"].startswith("<external_content id=")
    assert 'source="mcp:demo"' in result["content"]
    assert "42" in result["content"]
    history = await messages(client, admin, accepted["sessionId"])
    (entry,) = history[1]["toolCalls"]
    assert (entry["name"], entry["status"], entry["riskLevel"]) == (
        "mcp.demo.add",
        "completed",
        "Low",
    )
    trail = await client.get(
        "/api/admin/audit", headers=admin.headers, params={"action": "mcp.", "limit": 200}
    )
    actions = [e["action"] for e in trail.json()["items"]]
    assert {"mcp.server.create", "mcp.server.connect", "mcp.tool.call"} <= set(actions)
    call_entry = next(e for e in trail.json()["items"] if e["action"] == "mcp.tool.call")
    assert call_entry["details"]["tool"] == "mcp.demo.add"
    assert call_entry["details"]["userId"] == admin.id


async def test_a_model_turn_calls_a_bridged_tool_over_streamable_http(
    client: httpx.AsyncClient,
    admin: Caller,
    agent_id: str,
    model: FakeServer,
    http_demo: str,
    gateway: Gateway,
) -> None:
    created = await register(
        client, admin,
        {"name": "remote", "transport": "streamableHttp", "url": http_demo,
         "auth": {"type": "bearer", "token": "tok-abcdef-123456"}},
    )  # fmt: skip
    assert created["auth"] == {"type": "bearer", "header": None, "secret": "tok…3456"}
    await wait_status(client, admin, gateway, created["id"], tools=7)
    await _allow(client, admin, agent_id, "mcp.remote.add")
    model.script(
        "POST",
        CHAT,
        call("mcp__remote__add", '{"a": 1, "b": 1}'),
        JsonReply(openai_completion("2.")),
    )
    _, task = await chat_turn(client, admin, "1+1?", isStreaming=False)
    assert task["status"] == "Completed", task
    second = model.received(CHAT)[1].json()
    assert 'source="mcp:remote"' in second["messages"][-1]["content"]


async def test_a_destructive_bridged_tool_waits_for_approval(
    client: httpx.AsyncClient,
    admin: Caller,
    agent_id: str,
    model: FakeServer,
    events: EventLog,
    gateway: Gateway,
) -> None:
    await _demo(client, admin, gateway)
    await _allow(client, admin, agent_id, "mcp.demo.wipe")
    model.script(
        "POST",
        CHAT,
        call("mcp__demo__wipe", '{"target": "/tmp/x"}'),
        JsonReply(openai_completion("Done.")),
    )
    accepted = await send(client, admin, "Wipe it.", isStreaming=False)
    approval = await pending_approval(client, admin, events, accepted["taskId"])
    assert (approval["toolName"], approval["riskLevel"]) == ("mcp.demo.wipe", "High")
    approved = await client.post(f"/api/approvals/{approval['id']}/approve", headers=admin.headers)
    assert approved.status_code == 200, approved.text
    task = await wait_task(client, admin, accepted["taskId"])
    assert task["status"] == "Completed", task
    assert "wiped /tmp/x" in model.received(CHAT)[1].json()["messages"][-1]["content"]


async def test_list_changed_refreshes_the_catalog_and_a_changed_definition_is_disabled(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway
) -> None:
    server = await _demo(client, admin, gateway)
    link = gateway.mcp.link(server["id"])
    assert link is not None
    await link.call("grow", {}, None)
    await wait_link(gateway, server["id"], lambda k: len(k.found.tools) == 11)
    assert "mcp.demo.extra" in await catalog_names(client, admin)

    await link.call("reword", {}, None)
    await wait_link(gateway, server["id"], lambda k: bool(k.changed))
    body = (await client.get(f"/api/mcp/servers/{server['id']}", headers=admin.headers)).json()
    assert body["changedTools"] == ["add"]
    tools = await catalog_names(client, admin)
    assert tools["mcp.demo.add"]["available"] is False
    assert "re-approve" in tools["mcp.demo.add"]["unavailableReason"]
    assert (await link.call("add", {"a": 1, "b": 2}, None)).is_error
    audit = await client.get(
        "/api/admin/audit", headers=admin.headers, params={"action": "mcp.tool.changed"}
    )
    assert [e["action"] for e in audit.json()["items"]] == ["mcp.tool.changed"], audit.text

    approved = await client.post(
        f"/api/mcp/servers/{server['id']}/approve-tools", headers=admin.headers
    )
    assert approved.status_code == 200, approved.text
    await wait_link(gateway, server["id"], lambda k: k is link and not k.changed)
    assert (await catalog_names(client, admin))["mcp.demo.add"]["available"] is True


async def test_a_call_past_its_timeout_is_cancelled_and_the_model_sees_a_timeout(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, model: FakeServer, gateway: Gateway
) -> None:
    await _demo(client, admin, gateway, timeoutSeconds=1, riskOverrides={"slow": "Low"})
    await _allow(client, admin, agent_id, "mcp.demo.slow")
    model.script(
        "POST",
        CHAT,
        call("mcp__demo__slow", '{"seconds": 30}'),
        JsonReply(openai_completion("Too slow.")),
    )
    _, task = await chat_turn(client, admin, "Be slow.", isStreaming=False)
    assert task["status"] == "Completed", task
    content = model.received(CHAT)[1].json()["messages"][-1]["content"]
    assert "timed out after 1 s" in content


async def test_a_crashing_server_is_restarted_and_its_tools_are_unavailable_meanwhile(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway
) -> None:
    gateway.mcp.ping_seconds = 0.2
    server = await _demo(client, admin, gateway)
    link = gateway.mcp.link(server["id"])
    assert link is not None
    link.ping_seconds = 0.2
    crashed = await link.call("crash", {}, None)
    assert crashed.is_error
    await wait_link(gateway, server["id"], lambda k: k.state != "connected")
    tools = await catalog_names(client, admin)
    assert tools["mcp.demo.add"]["available"] is False
    assert "not connected" in tools["mcp.demo.add"]["unavailableReason"]
    await wait_link(gateway, server["id"], lambda k: k.state == "connected" and k.connects >= 2)
    assert not (await link.call("add", {"a": 3, "b": 4}, None)).is_error
