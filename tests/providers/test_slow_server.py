"""A provider's server is asked with no transaction open: while it hangs (at create's model
discovery, or at a test), other writes of the tenant go through."""

from __future__ import annotations

import httpx

from sophon.providers.connect import ProviderRuntime
from tests.identity_helpers import Caller, add_user
from tests.llm.fakes import (
    FakeServer,
    HeldReply,
    JsonReply,
    models_list,
    openai_completion,
    while_held,
)
from tests.providers.provider_helpers import PROVIDERS, add_provider


async def test_a_hanging_model_list_at_create_does_not_block_other_writes(
    client: httpx.AsyncClient, admin: Caller, fake: FakeServer, runtime: ProviderRuntime
) -> None:
    held = HeldReply(JsonReply(models_list(["slow-model"], anthropic=False)))
    fake.script("GET", "/v1/models", held)
    created, user = await while_held(
        held,
        client.post(
            PROVIDERS,
            headers=admin.headers,
            json={"name": "Slow", "type": "openai", "baseUrl": f"{fake.url}/v1"},
        ),
        lambda: add_user(client, admin, "meanwhile@example.com"),
    )
    assert created.status_code == 201, created.text
    assert [m["id"] for m in created.json()["models"]] == ["slow-model"]
    assert user.email == "meanwhile@example.com"


async def test_a_hanging_provider_test_does_not_block_other_writes(
    client: httpx.AsyncClient, admin: Caller, fake: FakeServer, runtime: ProviderRuntime
) -> None:
    made = await add_provider(
        client, admin, name="Slow", type="openai", baseUrl=f"{fake.url}/v1", defaultModel="m1"
    )
    held = HeldReply(JsonReply(openai_completion("ok")))
    fake.script("POST", "/v1/chat/completions", held)
    tested, moved = await while_held(
        held,
        client.post(f"{PROVIDERS}/{made['id']}/test", headers=admin.headers),
        lambda: client.patch(
            f"{PROVIDERS}/{made['id']}", headers=admin.headers, json={"priority": 7}
        ),
    )
    assert moved.status_code == 200, moved.text
    assert tested.status_code == 200, tested.text
    assert (tested.json()["ok"], tested.json()["status"]) == (True, "Active")
    stored = (await client.get(f"{PROVIDERS}/{made['id']}", headers=admin.headers)).json()
    assert stored["priority"] == 7  # the test's write kept the change made meanwhile
    assert stored["lastTestedAt"] is not None


async def test_a_provider_deleted_during_its_test_is_404(
    client: httpx.AsyncClient, admin: Caller, fake: FakeServer, runtime: ProviderRuntime
) -> None:
    made = await add_provider(
        client, admin, name="Gone", type="openai", baseUrl=f"{fake.url}/v1", defaultModel="m1"
    )
    held = HeldReply(JsonReply(openai_completion("ok")))
    fake.script("POST", "/v1/chat/completions", held)
    tested, deleted = await while_held(
        held,
        client.post(f"{PROVIDERS}/{made['id']}/test", headers=admin.headers),
        lambda: client.delete(f"{PROVIDERS}/{made['id']}", headers=admin.headers),
    )
    assert deleted.status_code == 204, deleted.text
    assert tested.status_code == 404, tested.text
