"""The SQL a chat turn costs, counted: an ordinary turn (no tools) of a warm session stays within
its budget, so no later change adds reads to every turn without this test saying so. Counted
on SQLite, where the Gateway is the database's one writer and its caches (`platform.memo`, the
credential cache) hold until a write; on PostgreSQL they last a second, so counts vary there."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, event

from sophon.gateway import Gateway
from sophon.settings import Settings
from tests.chat.chat_helpers import EventLog, chat_turn, send
from tests.identity_helpers import Caller
from tests.llm.fakes import FakeServer, SseReply, openai_chunk

CHAT = "/v1/chat/completions"
REQUEST_BUDGET = 4  # POST /api/chat: the session (read, locked, counted), the message, task, job
TURN_BUDGET = 9  # from the queue claim to the job's completion: 13 in all, the issue asks <= 15


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Workers woken by new tasks only: no idle poll lands among the counted statements."""
    return settings.model_copy(update={"queue_poll_seconds": 3600})


def _claims(statement: str) -> bool:
    """The queue's claim: one UPDATE … RETURNING of the due jobs (a CTE)."""
    return "UPDATE jobs SET status=?, attempts=" in statement


def _completes_job(statement: str) -> bool:
    return statement.startswith("UPDATE jobs SET") and "finished_at=" in statement


def streamed(text: str) -> SseReply:
    return SseReply(
        [
            openai_chunk({"content": text}),
            openai_chunk({}, finish_reason="stop"),
            openai_chunk(usage=(30, 5)),
            b"data: [DONE]\n\n",
        ]
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_ordinary_warm_turn_stays_within_its_statement_budget(
    client: httpx.AsyncClient,
    admin: Caller,
    agent_id: str,
    model: FakeServer,
    gateway: Gateway,
    events: EventLog,
) -> None:
    model.script("POST", CHAT, *[streamed(f"Answer {i}.") for i in range(4)])
    accepted, _ = await chat_turn(client, admin, "Hello, I am warming up.")
    session_id = accepted["sessionId"]
    for text in ("Second turn.", "Third turn."):
        await chat_turn(client, admin, text, sessionId=session_id)

    seen: list[str] = []
    job_done = asyncio.Event()

    def count(conn: Connection, cursor: Any, statement: str, *args: object) -> None:
        seen.append(" ".join(statement.split()))
        if _completes_job(seen[-1]):
            job_done.set()

    engine = gateway.db.engine.sync_engine
    event.listen(engine, "after_cursor_execute", count)
    try:
        sent = await send(client, admin, "What time is it in Ghent?", sessionId=session_id)
        await events.named("TaskCompleted", sent["taskId"])
        await asyncio.wait_for(job_done.wait(), 20)
    finally:
        event.remove(engine, "after_cursor_execute", count)

    # A worker's looks for work that found none (the idle loop's, around any turn) are not the
    # turn's. A claim's rowcount is not known before its RETURNING rows are read, so the turn's
    # claim is the last one before the turn loads its task.
    loads = next(i for i, s in enumerate(seen) if s.startswith("SELECT tasks."))
    claim = max(i for i, s in enumerate(seen[:loads]) if _claims(s))
    done = next(i for i, s in enumerate(seen) if _completes_job(s))
    request = [s for s in seen[:claim] if not _claims(s)]
    turn = [seen[claim], *(s for s in seen[claim + 1 : done + 1] if not _claims(s))]
    listing = "\n".join(seen)
    assert len(request) <= REQUEST_BUDGET, listing
    assert len(turn) <= TURN_BUDGET, listing
    # the turn's claim is the only one: no worker (the turns', the webhooks') looks again when
    # the task's TaskQueued event comes, nor when the job completes with nothing left to claim
    assert sum(map(_claims, seen)) == 1, listing
    # what an ordinary turn never does again: look up what the caches hold (memories: this
    # agent has none), or approvals
    for table in (
        "system_settings",
        "model_providers",
        "agent_file_versions",
        "approvals",
        "documents",
        "memory_entries",
    ):
        assert not any(f"FROM {table}" in s for s in seen), (table, listing)
