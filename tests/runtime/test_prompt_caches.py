"""What a warm turn no longer reads again (persona versions, an agent's lack of memories) is
read again after a write: the next turn's prompt shows the edit or the new memory."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, cast

import httpx
from sqlalchemy import Table, delete, insert, select, update

from sophon.agents.files import FileKind, file_path
from sophon.chat.models import Message
from sophon.gateway import Gateway
from sophon.runtime.history import NO_RESULT
from tests.chat.chat_helpers import chat_turn
from tests.identity_helpers import Caller
from tests.llm.fakes import FakeServer
from tests.memory.memory_helpers import ENTRIES, remember
from tests.runtime.test_model_loop import streamed_text

CHAT = "/v1/chat/completions"
REMEMBERED = "What you remember"


MESSAGES = cast(Table, Message.__table__)


def _system_prompts(model: FakeServer) -> list[str]:
    """The turns' system prompts (not memory's own model calls, e.g. for a new entry's entities)."""
    prompts = [str(r.json()["messages"][0]["content"]) for r in model.received(CHAT)]
    return [p for p in prompts if "hosted on a Sophon Gateway" in p]


async def test_a_memory_written_between_turns_is_in_the_next_prompt(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, model: FakeServer
) -> None:
    model.script("POST", CHAT, *[streamed_text(f"Answer {i}.") for i in range(5)])
    accepted, _ = await chat_turn(client, admin, "Hello.")
    session = accepted["sessionId"]
    await chat_turn(client, admin, "Anything about me?", sessionId=session)
    cat = await remember(client, admin, "The user's cat is called Miso.")
    await chat_turn(client, admin, "And now?", sessionId=session)
    await remember(client, admin, "The user's dog is called Pip.")
    await chat_turn(client, admin, "And the dog?", sessionId=session)
    deleted = await client.delete(f"{ENTRIES}/{cat['id']}", headers=admin.headers)
    assert deleted.status_code == 204, deleted.text
    await chat_turn(client, admin, "And after forgetting the cat?", sessionId=session)
    prompts = _system_prompts(model)
    assert [REMEMBERED in p for p in prompts] == [False, False, True, True, True]
    assert ["Miso" in p for p in prompts] == [False, False, True, True, False]
    assert ["Pip" in p for p in prompts] == [False, False, False, True, True]


async def test_a_persona_edit_between_turns_is_in_the_next_prompt(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, model: FakeServer, data_dir: Path
) -> None:
    model.script("POST", CHAT, *[streamed_text(f"Answer {i}.") for i in range(3)])
    soul = f"/api/agents/{agent_id}/files/soul"
    saved = await client.put(soul, headers=admin.headers, json={"content": "You are Ada."})
    assert saved.status_code == 200, saved.text
    accepted, _ = await chat_turn(client, admin, "Hello.")
    session = accepted["sessionId"]
    saved = await client.put(soul, headers=admin.headers, json={"content": "You are Bea."})
    assert saved.status_code == 200, saved.text
    await chat_turn(client, admin, "Who are you now?", sessionId=session)
    file_path(data_dir, agent_id, FileKind.SOUL).write_text("You are Cleo.\n")
    await chat_turn(client, admin, "And now?", sessionId=session)
    prompts = _system_prompts(model)
    assert ["Ada" in p for p in prompts] == [True, False, False]
    assert ["Bea" in p for p in prompts] == [False, True, False]
    assert ["Cleo" in p for p in prompts] == [False, False, True]


async def test_an_in_place_edit_of_a_persona_file_read_before_is_in_the_next_prompt(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, model: FakeServer, data_dir: Path
) -> None:
    """A file unchanged for a while is kept in memory by its `stat`; an editor's edit in place,
    same size, same inode, still shows in the next prompt."""
    model.script("POST", CHAT, *[streamed_text(f"Answer {i}.") for i in range(3)])
    soul = file_path(data_dir, agent_id, FileKind.SOUL)
    soul.write_text("You are Ada.\n")
    an_hour_ago = time.time() - 3600
    os.utime(soul, (an_hour_ago, an_hour_ago))
    accepted, _ = await chat_turn(client, admin, "Hello.")
    session = accepted["sessionId"]
    await chat_turn(client, admin, "Who are you?", sessionId=session)
    with soul.open("r+") as handle:
        handle.write("You are Bea.\n")
    await chat_turn(client, admin, "And now?", sessionId=session)
    prompts = _system_prompts(model)
    assert ["Ada" in p for p in prompts] == [True, True, False]
    assert ["Bea" in p for p in prompts] == [False, False, True]


def _last_prompt(model: FakeServer) -> list[dict[str, Any]]:
    """The messages of the latest turn's model call, the system prompt left out."""
    turns = [r.json()["messages"] for r in model.received(CHAT)]
    turns = [m for m in turns if "hosted on a Sophon Gateway" in str(m[0]["content"])]
    return [{k: v for k, v in m.items() if k != "name"} for m in turns[-1][1:]]


async def test_history_another_writer_changes_is_in_the_next_prompt(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, model: FakeServer, gateway: Gateway
) -> None:
    """A warm turn reads only the history after the message the previous turn answered: a
    tool-call list changed before it, a message deleted or one committed late (as another
    replica's writes may) still shows in the next prompt."""
    model.script("POST", CHAT, *[streamed_text(f"Answer {i}.") for i in range(6)])
    accepted, _ = await chat_turn(client, admin, "Hello.")
    session = accepted["sessionId"]
    await chat_turn(client, admin, "Second.", sessionId=session)
    engine = gateway.db.engine
    async with engine.connect() as conn:
        stored = (
            await conn.execute(select(MESSAGES).where(MESSAGES.c.session_id == session))
        ).all()
    hello, answer = sorted(stored, key=lambda row: str(row.id))[:2]

    async def write(statement: Any) -> None:
        async with engine.begin() as conn:
            await conn.execute(statement)

    def calls(zone: str) -> list[dict[str, Any]]:
        return [{"id": "call_1", "name": "clock.now", "arguments": {"zone": zone}}]

    await write(update(MESSAGES).where(MESSAGES.c.id == answer.id).values(tool_calls=calls("CET")))
    await chat_turn(client, admin, "Third.", sessionId=session)
    prompt = _last_prompt(model)
    assert prompt[1]["tool_calls"][0]["function"]["arguments"] == '{"zone": "CET"}'
    assert prompt[2] == {"role": "tool", "tool_call_id": "call_1", "content": NO_RESULT}

    await write(update(MESSAGES).where(MESSAGES.c.id == answer.id).values(tool_calls=calls("JST")))
    await chat_turn(client, admin, "Fourth.", sessionId=session)
    assert _last_prompt(model)[1]["tool_calls"][0]["function"]["arguments"] == '{"zone": "JST"}'

    await write(delete(MESSAGES).where(MESSAGES.c.id == answer.id))
    await chat_turn(client, admin, "Fifth.", sessionId=session)
    assert [m["content"] for m in _last_prompt(model)][:3] == ["Hello.", "Second.", "Answer 1."]

    late = {**hello._asdict(), "id": f"{hello.id}0", "content": "Late."}
    await write(insert(MESSAGES).values(late))
    await chat_turn(client, admin, "Sixth.", sessionId=session)
    assert [m["content"] for m in _last_prompt(model)][:3] == ["Hello.", "Late.", "Second."]


async def test_a_persona_file_created_and_removed_on_disk_between_turns_shows_in_the_next_prompt(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, model: FakeServer, data_dir: Path
) -> None:
    """A missing file is remembered as missing until a `stat` finds it."""
    model.script("POST", CHAT, *[streamed_text(f"Answer {i}.") for i in range(4)])
    guide = file_path(data_dir, agent_id, FileKind.AGENTS_GUIDE)
    guide.unlink(missing_ok=True)
    accepted, _ = await chat_turn(client, admin, "Hello.")
    session = accepted["sessionId"]
    await chat_turn(client, admin, "Still there?", sessionId=session)
    guide.write_text("Always answer in haiku.\n")
    await chat_turn(client, admin, "And now?", sessionId=session)
    guide.unlink()
    await chat_turn(client, admin, "And after?", sessionId=session)
    prompts = _system_prompts(model)
    assert ["haiku" in p for p in prompts] == [False, False, True, False]
