"""A provider's server is asked with no transaction open: while it hangs (at create's model
discovery, or at a test), other writes of the tenant go through."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

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


async def provider_tested_while(
    client: httpx.AsyncClient,
    admin: Caller,
    fake: FakeServer,
    meanwhile: Callable[[str], Coroutine[Any, Any, httpx.Response]],
) -> tuple[str, httpx.Response, httpx.Response]:
    """(provider id, the test's response, `meanwhile`'s) for a provider whose test call hangs
    until `meanwhile(provider id)` has answered."""
    made = await add_provider(
        client, admin, name="Slow", type="openai", baseUrl=f"{fake.url}/v1", defaultModel="m1"
    )
    held = HeldReply(JsonReply(openai_completion("ok")))
    fake.script("POST", "/v1/chat/completions", held)
    tested, other = await while_held(
        held,
        client.post(f"{PROVIDERS}/{made['id']}/test", headers=admin.headers),
        lambda: meanwhile(made["id"]),
    )
    return made["id"], tested, other


async def test_a_hanging_provider_test_does_not_block_other_writes(
    client: httpx.AsyncClient, admin: Caller, fake: FakeServer, runtime: ProviderRuntime
) -> None:
    provider_id, tested, moved = await provider_tested_while(
        client,
        admin,
        fake,
        lambda pid: client.patch(f"{PROVIDERS}/{pid}", headers=admin.headers, json={"priority": 7}),
    )
    assert moved.status_code == 200, moved.text
    assert tested.status_code == 200, tested.text
    assert (tested.json()["ok"], tested.json()["status"]) == (True, "Active")
    stored = (await client.get(f"{PROVIDERS}/{provider_id}", headers=admin.headers)).json()
    assert stored["priority"] == 7  # the test's write kept the change made meanwhile
    assert stored["lastTestedAt"] is not None


async def test_a_provider_deleted_during_its_test_is_404(
    client: httpx.AsyncClient, admin: Caller, fake: FakeServer, runtime: ProviderRuntime
) -> None:
    _, tested, deleted = await provider_tested_while(
        client,
        admin,
        fake,
        lambda pid: client.delete(f"{PROVIDERS}/{pid}", headers=admin.headers),
    )
    assert deleted.status_code == 204, deleted.text
    assert tested.status_code == 404, tested.text
