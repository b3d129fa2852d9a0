"""Fixtures for chat runtime tests: the running Gateway, its event bus, and callers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sophon.gateway import Gateway
from sophon.settings import Settings
from sophon.tools.registry import RiskLevel, Tool
from tests.agents.agent_helpers import default_agent
from tests.chat.chat_helpers import EventLog, pending_approval, send
from tests.identity_helpers import Caller
from tests.llm.fakes import (
    FakeServer,
    JsonReply,
    SleepRecorder,
    openai_completion,
    openai_tool_call,
)
from tests.providers.provider_helpers import add_provider


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Leases long enough that a test moving the fake clock does not look like a crash, and a
    scheduler that only ticks when a test asks."""
    return settings.model_copy(
        update={
            "task_lease_seconds": 3600,
            "scheduler_poll_seconds": 3600,
            "queue_poll_seconds": 0.5,
        }
    )


@pytest.fixture
def gateway(app: FastAPI, client: httpx.AsyncClient) -> Gateway:
    built: Gateway = app.state.gateway
    return built


@pytest.fixture
async def events(gateway: Gateway) -> AsyncIterator[EventLog]:
    async with EventLog(gateway.bus) as log:
        yield log


@pytest.fixture
async def model(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway, fake_server: FakeServer
) -> FakeServer:
    """A loopback OpenAI-compatible provider as the tenant's model (retries never wait)."""
    fake_server.reset()
    gateway.model_runtime.sleep = SleepRecorder()
    # these tests script every model reply; memory extraction would ask the model too
    for agent in (await client.get("/api/agents", headers=admin.headers)).json()["items"]:
        await client.put(
            f"/api/memory/agents/{agent['id']}/settings",
            headers=admin.headers,
            json={"extractionEnabled": False},
        )
    await add_provider(
        client,
        admin,
        name="loopback",
        type="openai",
        baseUrl=f"{fake_server.url}/v1",
        apiKey="sk-test-key",
        models=[{"id": "gpt-test"}],
        defaultModel="gpt-test",
    )
    return fake_server


@pytest.fixture
async def agent_id(client: httpx.AsyncClient, admin: Caller) -> str:
    """The default agent, allowed every built-in tool family used here."""
    agent = await default_agent(client, admin)
    response = await client.put(
        f"/api/agents/{agent['id']}/tools",
        headers=admin.headers,
        json={"tools": ["datetime.*", "code.*", "os.*", "web.*"]},
    )
    assert response.status_code == 200, response.text
    return str(agent["id"])


@dataclass
class PlannedNote:
    """A turn of an `Always`-planning agent waiting for the approval of its plan (one Medium
    step: `notes.write` of "milk"); the model is scripted for the plan, the call and "Noted."."""

    accepted: dict[str, Any]
    approval: dict[str, Any]

    @property
    def task_id(self) -> str:
        return str(self.accepted["taskId"])


@pytest.fixture
async def planned_note(
    client: httpx.AsyncClient,
    admin: Caller,
    agent_id: str,
    gateway: Gateway,
    model: FakeServer,
    events: EventLog,
) -> PlannedNote:
    await client.patch(
        f"/api/agents/{agent_id}", headers=admin.headers, json={"planningMode": "Always"}
    )

    async def note(context: object, arguments: dict[str, object]) -> str:
        return f"noted {arguments.get('text')}"

    gateway.tools.register(
        Tool(
            "notes.write",
            "Write a note",
            {"type": "object", "properties": {"text": {"type": "string"}}},
            RiskLevel.MEDIUM,
            note,
        )
    )
    await client.put(
        f"/api/agents/{agent_id}/tools",
        headers=admin.headers,
        json={"tools": ["datetime.*", "notes.*"]},
    )
    plan = {
        "goal": "Take a note",
        "steps": [{"description": "write it", "toolHints": ["notes.write"]}],
    }
    model.script(
        "POST",
        "/v1/chat/completions",
        JsonReply(openai_completion(json.dumps(plan))),
        JsonReply(
            openai_completion(
                None,
                [openai_tool_call("call_9", "notes__write", '{"text": "milk"}')],
                finish_reason="tool_calls",
            )
        ),
        JsonReply(openai_completion("Noted.")),
    )
    accepted = await send(client, admin, "Write down milk", isStreaming=False)
    approval = await pending_approval(client, admin, events, accepted["taskId"])
    assert approval["kind"] == "plan"
    return PlannedNote(accepted, approval)
