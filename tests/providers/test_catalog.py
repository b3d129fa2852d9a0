"""GET /api/models: the tenant's models with capabilities and prices, then the echo model."""

from __future__ import annotations

import httpx

from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user
from tests.providers.provider_helpers import PROVIDERS, add_provider

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
    only_echo = (await client.get("/api/models", headers=admin.headers)).json()["items"]
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
    entries = response.json()["items"]
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


async def test_models_and_providers_are_cursor_pages(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    for number in range(3):
        await add_provider(
            client, admin, name=f"P{number}", type="openai", models=[{"id": "a"}, {"id": "b"}]
        )
    first = (await client.get("/api/models", headers=admin.headers, params={"limit": 4})).json()
    assert [e["ref"] for e in first["items"]] == ["P0/a", "P0/b", "P1/a", "P1/b"]
    assert first["hasMore"] is True
    rest = await client.get(
        "/api/models", headers=admin.headers, params={"limit": 4, "cursor": first["nextCursor"]}
    )
    assert [e["ref"] for e in rest.json()["items"]] == ["P2/a", "P2/b", "echo/echo"]
    assert (rest.json()["hasMore"], rest.json()["nextCursor"]) == (False, None)

    providers = await client.get(PROVIDERS, headers=admin.headers, params={"limit": 2})
    assert [p["name"] for p in providers.json()["items"]] == ["P0", "P1"]
    more = await client.get(
        PROVIDERS,
        headers=admin.headers,
        params={"limit": 2, "cursor": providers.json()["nextCursor"]},
    )
    assert [p["name"] for p in more.json()["items"]] == ["P2"]
    assert more.json()["hasMore"] is False
    swapped = await client.get(  # a cursor of one list is refused by another
        "/api/models", headers=admin.headers, params={"cursor": providers.json()["nextCursor"]}
    )
    assert_error(swapped, 400, "invalid_request")
