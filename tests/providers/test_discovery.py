"""A provider added without `defaultModel` or `models` gets the models its server lists, at
create time and again at test time while it has none, so chat has a model to ask for."""

from __future__ import annotations

import httpx

from sophon.providers.connect import ProviderRuntime
from tests.helpers import assert_error
from tests.identity_helpers import Caller
from tests.llm.fakes import FakeServer, JsonReply, openai_completion, refused_url
from tests.providers.provider_helpers import PROVIDERS, SECRET, add_provider


async def catalog_refs(client: httpx.AsyncClient, admin: Caller) -> list[str]:
    response = await client.get("/api/models", headers=admin.headers)
    assert response.status_code == 200, response.text
    return [entry["ref"] for entry in response.json()["items"]]


async def test_created_with_provider_type_only_lists_the_server_models(
    client: httpx.AsyncClient, admin: Caller, fake: FakeServer, runtime: ProviderRuntime
) -> None:
    made = await add_provider(
        client, admin, name="Ollama", providerType="openai", baseUrl=f"{fake.url}/v1"
    )
    assert (made["providerType"], made["type"], made["defaultModel"]) == ("openai", "openai", None)
    assert [m["id"] for m in made["models"]] == ["fake-chat-large", "fake-chat-small"]
    assert await catalog_refs(client, admin) == [
        "Ollama/fake-chat-large",
        "Ollama/fake-chat-small",
        "echo/echo",
    ]
    assert len(fake.received("/v1/models")) == 1


async def test_anthropic_models_are_discovered_with_their_names(
    client: httpx.AsyncClient, admin: Caller, fake: FakeServer, runtime: ProviderRuntime
) -> None:
    runtime.allow = ("127.0.0.1",)
    fake.models = ["claude-fake-1"]
    made = await add_provider(
        client, admin, name="Claude", providerType="anthropic", baseUrl=fake.url, apiKey=SECRET
    )
    assert [(m["id"], m["displayName"]) for m in made["models"]] == [
        ("claude-fake-1", "Claude Fake 1")
    ]
    assert fake.received("/v1/models")[0].headers["x-api-key"] == SECRET


async def test_unreachable_at_create_then_filled_by_the_test(
    client: httpx.AsyncClient, admin: Caller, fake: FakeServer, runtime: ProviderRuntime
) -> None:
    made = await add_provider(
        client, admin, name="Later", providerType="openai", baseUrl=f"{refused_url()}/v1"
    )
    assert made["models"] == []
    moved = await client.patch(
        f"{PROVIDERS}/{made['id']}", headers=admin.headers, json={"baseUrl": f"{fake.url}/v1"}
    )
    assert moved.status_code == 200, moved.text
    fake.script("POST", "/v1/chat/completions", JsonReply(openai_completion("ok")))
    tested = await client.post(f"{PROVIDERS}/{made['id']}/test", headers=admin.headers)
    assert tested.json()["ok"] is True, tested.text
    stored = (await client.get(f"{PROVIDERS}/{made['id']}", headers=admin.headers)).json()
    assert [m["id"] for m in stored["models"]] == ["fake-chat-large", "fake-chat-small"]
    assert "Later/fake-chat-large" in await catalog_refs(client, admin)


async def test_configured_models_are_kept_as_given(
    client: httpx.AsyncClient, admin: Caller, fake: FakeServer, runtime: ProviderRuntime
) -> None:
    made = await add_provider(
        client, admin, name="Pinned", type="openai", baseUrl=f"{fake.url}/v1", defaultModel="mine"
    )
    assert (made["models"], made["defaultModel"]) == ([], "mine")
    assert fake.received("/v1/models") == []


async def test_unknown_provider_type_is_422_and_writes_nothing(
    client: httpx.AsyncClient, admin: Caller, fake: FakeServer
) -> None:
    for body in ({"name": "X", "providerType": "gemini"}, {"name": "X"}):
        response = await client.post(PROVIDERS, headers=admin.headers, json=body)
        error = assert_error(response, 422, "validation_failed")
        assert error["details"]["fields"][0]["field"] == "body.providerType"
    assert (await client.get(PROVIDERS, headers=admin.headers)).json()["items"] == []
    assert fake.received("/v1/models") == []
