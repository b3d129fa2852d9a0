"""POST /api/skills/author: a model writes the skill; it is Pending until a High-risk approval
(showing its code) is approved, and only then do its tools join the catalog."""

from __future__ import annotations

import json

import httpx
import pytest

from sophon.gateway import Gateway
from sophon.runtime.sandbox import sandbox_available
from sophon.tools.invoke import ToolContext, run_tool
from tests.agents.agent_helpers import audit_actions
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user
from tests.llm.fakes import FakeServer, HeldReply, JsonReply, openai_completion, while_held
from tests.skills.skill_helpers import SKILLS, installed

CHAT = "/v1/chat/completions"
WANTED = "A skill that reverses text."
CODE = """\
import json, sys
call = json.load(sys.stdin)
text = call["arguments"]["text"]
print(json.dumps({"content": text[::-1]}))
"""
AUTHORED = {
    "name": "reverser",
    "description": "Reverses text.",
    "instructions": "Call text.reverse with the text.",
    "tools": [
        {
            "name": "text.reverse",
            "description": "Reverse a string.",
            "risk": "None",
            "parameters": {
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
            },
        }
    ],
    "code": CODE,
}


async def test_an_authored_skill_waits_for_its_approval(
    client: httpx.AsyncClient, admin: Caller, model: FakeServer, gateway: Gateway
) -> None:
    reply = "Here it is:\n```json\n" + json.dumps(AUTHORED) + "\n```"
    model.script("POST", CHAT, JsonReply(openai_completion(reply)))
    response = await client.post(
        f"{SKILLS}/author",
        headers=admin.headers,
        json={"description": "A skill that reverses text."},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["name"], body["status"], body["source"]) == ("reverser", "Pending", "authored")
    assert body["signature"] == "unsigned"
    assert gateway.tools.get("text.reverse") is None
    approval_id = body["versions"][0]["approvalId"]
    approval = (await client.get(f"/api/approvals/{approval_id}", headers=admin.headers)).json()
    assert approval["riskLevel"] == "High"
    assert "text[::-1]" in approval["preview"]
    refused = await client.post(f"{SKILLS}/reverser/versions/0.1.0/activate", headers=admin.headers)
    assert_error(refused, 409, "conflict")

    approved = await client.post(f"/api/approvals/{approval_id}/approve", headers=admin.headers)
    assert approved.status_code == 200, approved.text
    assert (await installed(client, admin))["reverser"]["status"] == "Active"
    tool = gateway.tools.get("text.reverse")
    assert tool is not None
    if sandbox_available():
        result = await run_tool(tool, ToolContext(settings=gateway.settings), {"text": "abc"})
        assert result.content == "cba"
    assert await audit_actions(client, admin, "skill.") == ["skill.approve", "skill.install"]


async def test_the_model_writes_with_no_transaction_open(
    client: httpx.AsyncClient, admin: Caller, model: FakeServer
) -> None:
    held = HeldReply(JsonReply(openai_completion(json.dumps(AUTHORED))))
    model.script("POST", CHAT, held)
    authored, user = await while_held(
        held,
        client.post(f"{SKILLS}/author", headers=admin.headers, json={"description": WANTED}),
        lambda: add_user(client, admin, "meanwhile@example.com"),
    )
    assert authored.status_code == 201, authored.text
    assert authored.json()["status"] == "Pending"
    assert user.email == "meanwhile@example.com"


async def test_authoring_without_a_model_provider_is_409(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    response = await client.post(
        f"{SKILLS}/author", headers=admin.headers, json={"description": "Anything at all, please."}
    )
    error = assert_error(response, 409, "conflict")
    assert error["details"] == {"reason": "no_model_provider"}
    assert set(await installed(client, admin)) == {"code.lint", "csv.query"}


@pytest.mark.parametrize("answer", ["no json here", json.dumps({"name": "x"})])
async def test_a_model_answer_without_a_skill_is_502(
    client: httpx.AsyncClient, admin: Caller, model: FakeServer, answer: str
) -> None:
    model.script("POST", CHAT, JsonReply(openai_completion(answer)))
    response = await client.post(
        f"{SKILLS}/author",
        headers=admin.headers,
        json={"description": "A skill that reverses text."},
    )
    assert_error(response, 502, "upstream_unavailable")
    assert set(await installed(client, admin)) == {"code.lint", "csv.query"}
