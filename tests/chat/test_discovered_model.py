"""Chat works with a provider added by type and URL only: the turn asks for the first model
the server listed (it used to fail with "no default model configured")."""

from __future__ import annotations

import httpx

from sophon.gateway import Gateway
from tests.chat.chat_helpers import chat_turn
from tests.identity_helpers import Caller
from tests.llm.fakes import (
    OPENAI_DONE,
    FakeServer,
    SleepRecorder,
    SseReply,
    openai_chunk,
)
from tests.providers.provider_helpers import add_provider

CHAT = "/v1/chat/completions"


async def test_chat_uses_the_model_the_server_listed(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway, fake_server: FakeServer
) -> None:
    fake_server.reset()
    gateway.model_runtime.sleep = SleepRecorder()
    for agent in (await client.get("/api/agents", headers=admin.headers)).json()["items"]:
        await client.put(  # memory extraction would ask the model too
            f"/api/memory/agents/{agent['id']}/settings",
            headers=admin.headers,
            json={"extractionEnabled": False},
        )
    await add_provider(
        client, admin, name="Local", providerType="openai", baseUrl=f"{fake_server.url}/v1"
    )
    fake_server.script(
        "POST",
        CHAT,
        SseReply(
            [
                openai_chunk({"content": "Hi there."}),
                openai_chunk({}, finish_reason="stop"),
                openai_chunk(usage=(10, 3)),
                OPENAI_DONE,
            ]
        ),
    )
    _, task = await chat_turn(client, admin, "Hello")
    assert task["status"] == "Completed", task
    (request,) = fake_server.received(CHAT)
    assert request.json()["model"] == "fake-chat-large"
