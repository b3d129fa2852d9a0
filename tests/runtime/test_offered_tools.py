"""Which allowed tools a model request offers when the agent may use more than
`max_tools_per_call`: those the query names first, then those whose name and description share
the most words with it, then by name."""

from __future__ import annotations

import httpx
import pytest

from sophon.settings import Settings
from tests.agents.agent_helpers import default_agent
from tests.chat.chat_helpers import chat_turn
from tests.identity_helpers import Caller
from tests.llm.fakes import FakeServer, JsonReply, openai_completion

CHAT = "/v1/chat/completions"
ALLOWED = ["datetime.now", "document.query", "memory.traverse", "web.fetch"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_tools_per_call": 2})


async def _offered(
    client: httpx.AsyncClient, admin: Caller, model: FakeServer, query: str
) -> list[str]:
    agent = await default_agent(client, admin)
    allowed = await client.put(
        f"/api/agents/{agent['id']}/tools", headers=admin.headers, json={"tools": ALLOWED}
    )
    assert allowed.status_code == 200, allowed.text
    model.reset()
    model.script("POST", CHAT, JsonReply(openai_completion("done")))
    _, task = await chat_turn(client, admin, query, isStreaming=False)
    assert task["status"] == "Completed", task
    (request,) = (r.json() for r in model.received(CHAT))
    return [tool["function"]["name"] for tool in request["tools"]]


async def test_the_tools_sharing_the_querys_words_are_offered_first(
    client: httpx.AsyncClient, admin: Caller, model: FakeServer
) -> None:
    # memory.traverse: "Follows the entity graph from a person, organisation, project, place or
    # date"; the others share no word with the query, so the second place goes by name
    offered = await _offered(client, admin, model, "which graph links this project?")
    assert offered == ["memory__traverse", "datetime__now"]


async def test_a_tool_the_query_names_comes_first(
    client: httpx.AsyncClient, admin: Caller, model: FakeServer
) -> None:
    # named: web.fetch, though memory.traverse shares more words with the query
    query = "web.fetch the entity graph of a person, organisation, project or place"
    offered = await _offered(client, admin, model, query)
    assert offered == ["web__fetch", "memory__traverse"]
