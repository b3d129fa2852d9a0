"""The agent side: enabling a skill for an agent grants its tools (and skill.read); the prompt
lists enabled skills by name and description only; calls go through the allowlist like any other;
a canary credential never shows up in prompts, logs, tool-call records or audit entries."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from sophon.runtime.sandbox import sandbox_available
from tests.agents.agent_helpers import AGENTS, audit_actions, create_agent, default_agent
from tests.chat.chat_helpers import chat_turn, messages
from tests.helpers import assert_error
from tests.identity_helpers import Caller
from tests.llm.fakes import FakeServer, JsonReply, openai_completion
from tests.skills.skill_helpers import SKILLS, enable, install, package, zip_of

pytestmark = pytest.mark.skipif(not sandbox_available(), reason="needs the bwrap sandbox")
CHAT = "/v1/chat/completions"
CANARY = "canary-7f3a9c1e5b2d4e6f"
CANARY_MAIN = """\
import json, sys
call = json.load(sys.stdin)
token = call["credentials"].get("API_TOKEN", "")
sys.stderr.write("debug token=" + token + "\\n")
print(json.dumps({"content": f"got a {len(token)}-character token: {token}"}))
"""


def files_containing(folder: Path, needle: bytes) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


async def tools_of(
    client: httpx.AsyncClient, caller: Caller, agent_id: str
) -> dict[str, list[str]]:
    response = await client.get(f"{AGENTS}/{agent_id}/tools", headers=caller.headers)
    assert response.status_code == 200, response.text
    body: dict[str, list[str]] = response.json()
    return body


async def test_enabling_grants_the_tools_and_disabling_takes_them_back(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    agent = await create_agent(client, admin, "Analyst")
    assert (await tools_of(client, admin, agent["id"]))["effective"] == []
    body = await enable(client, admin, "csv.query", agent["id"])
    assert body["enabledAgents"] == [agent["id"]]
    assert await enable(client, admin, "csv.query", agent["id"]) == body  # idempotent
    granted = await tools_of(client, admin, agent["id"])
    assert granted["effective"] == ["csv.query", "skill.read"]
    response = await client.request(
        "DELETE", f"{SKILLS}/csv.query/enable", headers=admin.headers, json={"agentId": agent["id"]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["enabledAgents"] == []
    assert (await tools_of(client, admin, agent["id"]))["effective"] == []
    assert await audit_actions(client, admin, "skill.") == ["skill.disable", "skill.enable"]
    missing = await client.post(
        f"{SKILLS}/csv.query/enable", headers=admin.headers, json={"agentId": "agt_nope"}
    )
    assert_error(missing, 404, "not_found")
    nothing = await client.post(
        f"{SKILLS}/nope/enable", headers=admin.headers, json={"agentId": agent["id"]}
    )
    assert_error(nothing, 404, "not_found")
    # a glob never grants a skill's tools: code.* is code.execute only
    put = await client.put(
        f"{AGENTS}/{agent['id']}/tools", headers=admin.headers, json={"tools": ["code.*"]}
    )
    assert put.json()["effective"] == ["code.execute"]


async def test_an_enabled_skill_is_called_in_a_turn_and_read_with_skill_read(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    agent = await default_agent(client, admin)
    await enable(client, admin, "csv.query", agent["id"])
    call = {
        "csv": "a,b\n1,2\n3,4\n",
        "operation": "aggregate",
        "aggregates": [{"fn": "sum", "column": "b"}],
    }
    accepted, task = await chat_turn(client, admin, f"/tool csv.query {json.dumps(call)}")
    assert task["status"] == "Completed", task
    history = await messages(client, admin, accepted["sessionId"])
    assert history[1]["toolCalls"][0]["status"] == "completed"
    assert history[2]["content"] == "sum(b)\n6\n"
    accepted, task = await chat_turn(client, admin, '/tool skill.read {"name": "csv.query"}')
    history = await messages(client, admin, accepted["sessionId"])
    assert "Describe, filter and aggregate" in history[2]["content"]
    assert "`aggregate`: group by" in history[2]["content"]
    accepted, task = await chat_turn(client, admin, '/tool skill.read {"name": "code.lint"}')
    history = await messages(client, admin, accepted["sessionId"])
    assert (
        "not available to this agent" in history[2]["content"]
        or "not enabled" in history[2]["content"]
    )


async def test_a_skill_not_enabled_for_the_agent_refuses_even_if_named_in_the_allowlist(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    agent = await default_agent(client, admin)
    await enable(client, admin, "csv.query", agent["id"])
    await client.request(
        "DELETE", f"{SKILLS}/csv.query/enable", headers=admin.headers, json={"agentId": agent["id"]}
    )
    other = await create_agent(client, admin, "Other")
    await enable(client, admin, "csv.query", other["id"])
    tools = (await tools_of(client, admin, agent["id"]))["tools"]
    put = await client.put(
        f"{AGENTS}/{agent['id']}/tools",
        headers=admin.headers,
        json={"tools": [*tools, "csv.query"]},
    )
    assert put.status_code == 200
    _, task = await chat_turn(
        client, admin, '/tool csv.query {"csv": "a\\n1\\n", "operation": "describe"}'
    )
    assert task["toolCalls"][0]["status"] == "failed"


async def test_the_prompt_lists_enabled_skills_by_name_and_description_only(
    client: httpx.AsyncClient, admin: Caller, model: FakeServer
) -> None:
    agent = await default_agent(client, admin)
    await enable(client, admin, "csv.query", agent["id"])
    model.script("POST", CHAT, JsonReply(openai_completion("Fine.")))
    _, task = await chat_turn(client, admin, "hello", isStreaming=False)
    assert task["status"] == "Completed", task
    system = model.received(CHAT)[0].json()["messages"][0]["content"]
    assert "## Skills you can use" in system
    assert "- csv.query: Describe, filter and aggregate CSV data given inline." in system
    assert "code.lint" not in system
    assert "`aggregate`: group by" not in system  # the SKILL.md body waits for skill.read


async def test_uninstalling_takes_the_tools_from_every_agent(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    await install(client, admin, zip_of(package("echoer")))
    agent = await create_agent(client, admin, "Echo")
    await enable(client, admin, "echoer", agent["id"])
    assert (await tools_of(client, admin, agent["id"]))["effective"] == ["echoer.run", "skill.read"]
    assert (await client.delete(f"{SKILLS}/echoer", headers=admin.headers)).status_code == 204
    assert (await tools_of(client, admin, agent["id"]))["tools"] == ["skill.read"]


async def test_a_canary_credential_never_leaks(
    client: httpx.AsyncClient,
    admin: Caller,
    data_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    files = package(
        "canary", main=CANARY_MAIN, credentials=[{"name": "API_TOKEN", "description": "x"}]
    )
    await install(client, admin, zip_of(files))
    undeclared = await client.put(
        f"{SKILLS}/canary/credentials/OTHER", headers=admin.headers, json={"value": CANARY}
    )
    assert_error(undeclared, 422, "validation_failed")
    stored = await client.put(
        f"{SKILLS}/canary/credentials/API_TOKEN", headers=admin.headers, json={"value": CANARY}
    )
    assert stored.status_code == 200, stored.text
    detail = (await client.get(f"{SKILLS}/canary", headers=admin.headers)).json()
    assert detail["credentials"] == [{"name": "API_TOKEN", "description": "x", "configured": True}]
    agent = await default_agent(client, admin)
    await enable(client, admin, "canary", agent["id"])
    with caplog.at_level(logging.DEBUG):
        accepted, task = await chat_turn(client, admin, '/tool canary.run {"text": "go"}')
    assert task["status"] == "Completed", task
    history = await messages(client, admin, accepted["sessionId"])
    tool_message = history[2]["content"]
    assert f"got a {len(CANARY)}-character token: [redacted]" in tool_message
    assert "debug token=[redacted]" in tool_message
    seen = [
        json.dumps(history),
        json.dumps(task),
        json.dumps(detail),
        (await client.get("/api/admin/audit", headers=admin.headers, params={"limit": 200})).text,
        caplog.text,
    ]
    for text in seen:
        assert CANARY not in text
    assert files_containing(data_dir, CANARY.encode()) == []
