"""GET /api/models: the tenant's models with capabilities and prices, then the echo model."""

from __future__ import annotations

import httpx

from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user
from tests.providers.provider_helpers import add_provider

CLAUDE = {
    "id": "claude-sonnet-4",
    "displayName": "Claude Sonnet 4",
    "capabilities": {"vision": True, "functionCalling": True, "reasoning": True},
    "contextWindow": 200000,
    "maxOutput": 64000,
    "inputPricePer1M": 3,
    "outputPricePer1M": 15,
}


async def test_catalog_lists_provider_models_then_echo(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    assert_error(await client.get("/api/models"), 401, "unauthenticated")
    only_echo = (await client.get("/api/models", headers=admin.headers)).json()
    assert [(m["ref"], m["providerType"]) for m in only_echo] == [("echo/echo", "echo")]
    assert only_echo[0]["providerId"] is None
    assert "offline echo model" in only_echo[0]["displayName"].lower()

    made = await add_provider(
        client, admin, name="Claude", type="anthropic", models=[CLAUDE, {"id": "claude-haiku"}]
    )
    await add_provider(
        client, admin, name="Local", type="openai", priority=0, models=[{"id": "llama3"}]
    )
    viewer = await add_user(client, admin, "viewer@example.com", ["Viewer"])
    response = await client.get("/api/models", headers=viewer.headers)
    assert response.status_code == 200, response.text
    entries = response.json()
    assert [e["ref"] for e in entries] == [
        "Local/llama3",
        "Claude/claude-sonnet-4",
        "Claude/claude-haiku",
        "echo/echo",
    ]
    sonnet = entries[1]
    assert sonnet == {
        **CLAUDE,
        "capabilities": {**CLAUDE["capabilities"], "streaming": True},  # type: ignore[dict-item]
        "inputPricePer1M": 3.0,
        "outputPricePer1M": 15.0,
        "ref": "Claude/claude-sonnet-4",
        "provider": "Claude",
        "providerId": made["id"],
        "providerType": "anthropic",
        "providerStatus": "Active",
    }
    assert entries[2]["contextWindow"] is None
