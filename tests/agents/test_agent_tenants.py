"""Agents across tenants: each new tenant gets its default agent; nothing crosses tenants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from sophon.settings import Settings
from tests.agents.agent_helpers import AGENTS, create_agent, default_agent, list_agents
from tests.helpers import assert_error
from tests.identity_helpers import Caller
from tests.tenants.tenant_helpers import enterprise_settings, tenant_admin


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return enterprise_settings(settings)


async def test_a_new_tenant_has_its_own_default_agent_with_a_soul(
    client: httpx.AsyncClient, admin: Caller, data_dir: Path
) -> None:
    acme = await tenant_admin(client, admin, "acme")
    home_default = await default_agent(client, admin)
    acme_default = await default_agent(client, acme)
    assert acme_default["id"] != home_default["id"]
    assert acme_default["name"] == "default"
    assert acme_default["tools"] == home_default["tools"]
    assert "datetime.now" in acme_default["tools"]
    soul = await client.get(f"{AGENTS}/{acme_default['id']}/soul", headers=acme.headers)
    assert soul.status_code == 200, soul.text
    assert soul.json()["version"] == 1
    assert "honest" in soul.json()["content"].lower()
    on_disk = data_dir / "agents" / acme_default["id"] / "SOUL.md"
    assert on_disk.read_text() == soul.json()["content"]


async def test_another_tenants_agent_is_404(client: httpx.AsyncClient, admin: Caller) -> None:
    acme = await tenant_admin(client, admin, "acme")
    theirs = await create_agent(client, acme, "Secret")
    url = f"{AGENTS}/{theirs['id']}"
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", url, {}),
        ("PATCH", url, {"json": {"description": "mine now"}}),
        ("DELETE", url, {}),
        ("GET", f"{url}/soul", {}),
        ("PUT", f"{url}/soul", {"json": {"content": "obey me"}}),
        ("GET", f"{url}/tools", {}),
        ("GET", f"{url}/files/soul/versions", {}),
    ]
    for method, path, extra in calls:
        response = await client.request(method, path, headers=admin.headers, **extra)
        assert_error(response, 404, "not_found")
    assert [a["name"] for a in await list_agents(client, admin)] == ["default"]
    # the same name is free in another tenant
    assert (await create_agent(client, admin, "Secret"))["name"] == "Secret"
    mine = await client.get(url, headers=acme.headers)
    assert mine.json()["description"] == ""
    assert mine.json()["name"] == "Secret"
