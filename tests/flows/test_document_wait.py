"""The wait of a chat turn for its attached documents is bounded: a document still in its
pipeline when the wait runs out is named to the model as not readable yet, and the turn runs."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from sophon.documents import isolation
from sophon.settings import Settings
from tests.chat.chat_helpers import send, wait_task
from tests.documents.document_helpers import DOCS, upload
from tests.identity_helpers import Caller
from tests.llm.fakes import FakeServer, JsonReply, openai_completion

CHAT = "/v1/chat/completions"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"documents_attachment_wait_seconds": 1.0})


async def test_a_turn_waits_for_its_attachment_no_longer_than_the_bound(
    client: httpx.AsyncClient,
    admin: Caller,
    agent_id: str,
    model: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    never = asyncio.Event()
    extract = isolation.extract_file

    async def held(*args: Any) -> dict[str, Any]:
        await never.wait()
        return await extract(*args)

    monkeypatch.setattr(isolation, "extract_file", held)
    doc_id = (await upload(client, admin, [("slow.txt", b"Slow words.")]))["items"][0]["id"]
    model.script("POST", CHAT, JsonReply(openai_completion("It is not ready yet.")))
    accepted = await send(client, admin, "Read it", attachments=[doc_id], isStreaming=False)
    task = await wait_task(client, admin, accepted["taskId"])
    assert task["status"] == "Completed", (task.get("error"), task.get("errorCode"))
    (request,) = [r.json() for r in model.received(CHAT)]
    system = request["messages"][0]["content"]
    assert f"slow.txt (id {doc_id}, 0 pages): not readable yet (still " in system
    status = (await client.get(f"{DOCS}/{doc_id}", headers=admin.headers)).json()["status"]
    assert status in ("Uploaded", "Extracting")
    never.set()
