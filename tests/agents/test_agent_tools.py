"""The tool allowlist: exact names and `family.*` globs, checked against the catalog."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sophon.tools.registry import RiskLevel, Tool
from tests.agents.agent_helpers import AGENTS, audit_actions, create_agent, default_agent
from tests.helpers import assert_error
from tests.identity_helpers import Caller

TEST_TOOLS = ["agtest.alpha", "agtest.beta", "agtestother.gamma"]
LOW = ("None", "Low")


async def _noop(_context: Any, _arguments: dict[str, Any]) -> None:
    return None


@pytest.fixture
def catalog(app: FastAPI, client: httpx.AsyncClient) -> list[str]:
    """Tools of the test's own families, registered in the running Gateway's catalog."""
    for name in TEST_TOOLS:
        app.state.gateway.tools.register(
            Tool(name, f"Test tool {name}.", {"type": "object"}, RiskLevel.LOW, _noop)
        )
    return TEST_TOOLS


async def test_a_fresh_install_gives_the_default_agent_the_built_ins_up_to_low_risk(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    agent = await default_agent(client, admin)
    catalog = (await client.get("/api/tools", params={"limit": 200})).json()["items"]
    low = [t["name"] for t in catalog if t["source"] == "builtin" and t["riskLevel"] in LOW]
    assert "datetime.now" in low
    granted = await client.get(f"{AGENTS}/{agent['id']}/tools", headers=admin.headers)
    assert granted.json() == {"tools": low, "effective": low}
    assert await audit_actions(client, admin, "agent.tools.") == []


async def test_allowlist_set_and_read_with_effective_tools(
    client: httpx.AsyncClient, admin: Caller, catalog: list[str]
) -> None:
    agent = await create_agent(client, admin, "Toolsmith")
    url = f"{AGENTS}/{agent['id']}/tools"
    assert (await client.get(url, headers=admin.headers)).json() == {"tools": [], "effective": []}
    wanted = ["agtest.*", "agtestother.gamma", "agtest.alpha"]
    response = await client.put(url, headers=admin.headers, json={"tools": wanted})
    assert response.status_code == 200, response.text
    expected = {"tools": wanted, "effective": TEST_TOOLS}
    assert response.json() == expected
    assert (await client.get(url, headers=admin.headers)).json() == expected
    fetched = await client.get(f"{AGENTS}/{agent['id']}", headers=admin.headers)
    assert fetched.json()["tools"] == wanted
    assert await audit_actions(client, admin, "agent.tools.") == ["agent.tools.update"]


async def test_unknown_entries_are_422_named_and_nothing_changes(
    client: httpx.AsyncClient, admin: Caller, catalog: list[str]
) -> None:
    agent = await create_agent(client, admin, "Picky")
    url = f"{AGENTS}/{agent['id']}/tools"
    await client.put(url, headers=admin.headers, json={"tools": ["agtest.alpha"]})
    response = await client.put(
        url,
        headers=admin.headers,
        json={"tools": ["agtest.beta", "nosuch.tool", "ghost.*", "*", "agtest"]},
    )
    error = assert_error(response, 422, "validation_failed")
    assert error["details"] == {"unknown": ["nosuch.tool", "ghost.*", "*", "agtest"]}
    after = (await client.get(url, headers=admin.headers)).json()
    assert after == {"tools": ["agtest.alpha"], "effective": ["agtest.alpha"]}
    malformed = await client.put(url, headers=admin.headers, json={"tools": "agtest.*"})
    assert_error(malformed, 422, "validation_failed")
    assert await audit_actions(client, admin, "agent.tools.") == ["agent.tools.update"]


async def test_tools_of_a_deleted_agent_are_404(
    client: httpx.AsyncClient, admin: Caller, catalog: list[str]
) -> None:
    agent = await create_agent(client, admin, "Gone")
    await client.delete(f"{AGENTS}/{agent['id']}", headers=admin.headers)
    url = f"{AGENTS}/{agent['id']}/tools"
    assert_error(await client.get(url, headers=admin.headers), 404, "not_found")
    put = await client.put(url, headers=admin.headers, json={"tools": ["agtest.alpha"]})
    assert_error(put, 404, "not_found")
