"""/api/models/providers CRUD: each refusal with nothing written, and the API key kept secret."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select, text, update

from sophon.gateway import Gateway
from sophon.providers.models import ModelProvider
from sophon.tenants.models import Tenant
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user
from tests.providers.provider_helpers import PROVIDERS, SECRET, add_provider, tenant_session

GPT = {
    "id": "gpt-4o",
    "capabilities": {"vision": True, "functionCalling": True, "reasoning": False},
    "contextWindow": 128000,
    "maxOutput": 16384,
    "inputPricePer1M": 2.5,
    "outputPricePer1M": 10,
}


async def names(client: httpx.AsyncClient, admin: Caller) -> list[str]:
    response = await client.get(PROVIDERS, headers=admin.headers)
    assert response.status_code == 200, response.text
    return [p["name"] for p in response.json()["items"]]


async def test_create_read_update_delete_round_trip(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    made = await add_provider(
        client,
        admin,
        name="OpenAI",
        type="openai",
        baseUrl="https://api.openai.com/v1/",
        apiKey=SECRET,
        priority=2,
        models=[GPT],
    )
    assert made["apiKey"] == "sk-…wxyz"
    assert made["baseUrl"] == "https://api.openai.com/v1"
    assert (made["status"], made["priority"], made["lastTestedAt"]) == ("Active", 2, None)
    assert made["models"][0]["inputPricePer1M"] == 2.5
    assert made["models"][0]["capabilities"]["streaming"] is True
    one = await client.get(f"{PROVIDERS}/{made['id']}", headers=admin.headers)
    assert one.json() == made

    await add_provider(client, admin, name="Local", type="echo")
    assert await names(client, admin) == ["Local", "OpenAI"]  # priority 1 before 2

    patched = await client.patch(
        f"{PROVIDERS}/{made['id']}",
        headers=admin.headers,
        json={"priority": 0, "status": "Inactive", "apiKey": None},
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["apiKey"], patched.json()["status"]) == (None, "Inactive")
    assert patched.json()["models"] == made["models"]
    assert await names(client, admin) == ["OpenAI", "Local"]

    deleted = await client.delete(f"{PROVIDERS}/{made['id']}", headers=admin.headers)
    assert deleted.status_code == 204
    assert await names(client, admin) == ["Local"]
    audit = await client.get("/api/admin/audit", headers=admin.headers, params={"limit": 50})
    actions = [e["action"] for e in audit.json()["items"] if e["action"].startswith("provider.")]
    assert sorted(actions) == sorted(
        ["provider.create", "provider.create", "provider.update", "provider.delete"]
    )


async def test_refusals_401_403_404_409_422_write_nothing(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway
) -> None:
    made = await add_provider(client, admin, name="Main", type="echo")
    assert_error(await client.get(PROVIDERS), 401, "unauthenticated")
    viewer = await add_user(client, admin, "viewer@example.com", ["Viewer"])
    refused = await client.post(
        PROVIDERS, headers=viewer.headers, json={"name": "X", "type": "echo"}
    )
    assert assert_error(refused, 403, "not_authorized")["details"] == {"permission": "ManageModels"}
    assert_error(await client.get(PROVIDERS, headers=viewer.headers), 403, "not_authorized")
    assert (await client.get("/api/models", headers=viewer.headers)).status_code == 200

    other_id = await _provider_of_another_tenant(gateway)
    for provider_id in (other_id, "prov_missing"):
        url = f"{PROVIDERS}/{provider_id}"
        assert_error(await client.get(url, headers=admin.headers), 404, "not_found")
        patch = await client.patch(url, headers=admin.headers, json={"priority": 3})
        assert_error(patch, 404, "not_found")
        assert_error(await client.delete(url, headers=admin.headers), 404, "not_found")
        assert_error(await client.post(f"{url}/test", headers=admin.headers), 404, "not_found")

    duplicate = await client.post(
        PROVIDERS, headers=admin.headers, json={"name": "Main", "type": "openai"}
    )
    assert_error(duplicate, 409, "conflict")
    await add_provider(client, admin, name="Second", type="echo")
    rename = await client.patch(
        f"{PROVIDERS}/{made['id']}", headers=admin.headers, json={"name": "Second"}
    )
    assert_error(rename, 409, "conflict")

    bad: list[dict[str, Any]] = [
        {"name": "X", "type": "gemini"},
        {"name": "X", "type": "openai", "baseUrl": "ftp://example.com"},
        {"name": "X", "type": "openai", "baseUrl": "not a url"},
        {"name": "X", "type": "openai", "baseUrl": "https://user:pw@example.com/v1"},
        {"name": "X", "type": "openai", "priority": 1001},
        {"name": "X", "type": "openai", "priority": -1},
        {"name": "a/b", "type": "openai"},
        {"name": "", "type": "openai"},
        {"name": "X", "type": "openai", "status": "Error"},
        {"name": "X", "type": "openai", "models": [{"id": "m"}, {"id": "m"}]},
        {"name": "X", "type": "openai", "models": [{"id": "m", "inputPricePer1M": -1}]},
        {"name": "X", "type": "openai", "unknown": 1},
    ]
    for body in bad:
        assert_error(
            await client.post(PROVIDERS, headers=admin.headers, json=body), 422, "validation_failed"
        )
    bad_patch = await client.patch(
        f"{PROVIDERS}/{made['id']}", headers=admin.headers, json={"type": "openai"}
    )
    assert_error(bad_patch, 422, "validation_failed")
    assert await names(client, admin) == ["Main", "Second"]
    async with tenant_session(gateway) as db:
        assert (
            await db.scalar(select(ModelProvider.id).where(ModelProvider.id == other_id))
        ) is None


async def _provider_of_another_tenant(gateway: Gateway) -> str:
    async with gateway.db.transaction() as db:
        db.add(Tenant(id="ten_other", slug="other", name="Other"))
    async with gateway.db.transaction(tenant_id="ten_other") as db:
        db.add(ModelProvider(id="prov_other", name="Theirs", type="echo", models=[]))
    return "prov_other"


async def test_the_key_is_never_returned_nor_stored_in_plaintext(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway
) -> None:
    made = await add_provider(  # a default model: no model list is fetched from the vendor
        client, admin, name="Vendor", type="openai", apiKey=SECRET, defaultModel="gpt-4o"
    )
    responses = [
        await client.get(PROVIDERS, headers=admin.headers),
        await client.get(f"{PROVIDERS}/{made['id']}", headers=admin.headers),
        await client.patch(
            f"{PROVIDERS}/{made['id']}", headers=admin.headers, json={"apiKey": SECRET + "2"}
        ),
        await client.get("/api/models", headers=admin.headers),
        await client.get("/api/admin/audit", headers=admin.headers),
    ]
    for response in responses:
        assert response.status_code == 200, response.text
        assert SECRET not in response.text
        assert "SUPERSECRET" not in response.text
    async with tenant_session(gateway) as db:
        stored = await db.scalar(select(ModelProvider.api_key_secret))
        rows = (await db.execute(text("SELECT * FROM model_providers"))).all()
        audit = (await db.execute(text("SELECT details FROM audit_entries"))).all()
    assert stored is not None
    assert stored.startswith("v1:")
    assert gateway.vault.decrypt(stored, made["id"]) == SECRET + "2"
    assert "SUPERSECRET" not in repr(rows) + repr(audit)


async def test_tampered_ciphertext_is_refused_not_used(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway
) -> None:
    made = await add_provider(  # a default model: no model list is fetched from the vendor
        client, admin, name="Vendor", type="openai", apiKey=SECRET, defaultModel="gpt-4o"
    )
    async with tenant_session(gateway, readonly=False) as db:
        stored = await db.scalar(select(ModelProvider.api_key_secret))
        assert stored is not None
        flipped = stored[:-2] + ("A" if stored[-2] != "A" else "B") + stored[-1]
        await db.execute(update(ModelProvider).values(api_key_secret=flipped))
    tested = await client.post(f"{PROVIDERS}/{made['id']}/test", headers=admin.headers)
    assert tested.status_code == 200, tested.text
    body = tested.json()
    assert (body["ok"], body["error"]["code"], body["status"]) == (
        False,
        "key_undecryptable",
        "Error",
    )
    listed = await client.get(PROVIDERS, headers=admin.headers)
    assert listed.json()["items"][0]["lastError"] == body["error"]["message"]
