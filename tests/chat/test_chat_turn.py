"""A whole chat turn through HTTP with the offline echo model."""

from __future__ import annotations

import httpx

from tests.chat.chat_helpers import chat_turn, messages
from tests.identity_helpers import Caller


async def test_a_message_is_answered_in_a_new_session(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    accepted, task = await chat_turn(client, admin, "Hello there")
    assert task["status"] == "Completed", task
    assert task["sessionId"] == accepted["sessionId"]
    history = await messages(client, admin, accepted["sessionId"])
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert history[0]["id"] == accepted["messageId"]
    assert history[1]["content"] == "(offline echo model) You said: Hello there"
    assert task["tokensUsed"] > 0
    session = (
        await client.get(f"/api/sessions/{accepted['sessionId']}", headers=admin.headers)
    ).json()
    assert session["messageCount"] == 2
    assert session["title"] == "Hello there"
    assert session["tokensUsed"] == task["tokensUsed"]
