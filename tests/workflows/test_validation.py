"""Bad definitions: each answers 422 (or 413) naming the node and the field, and writes
nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import assert_error
from tests.identity_helpers import Caller
from tests.workflows.wf_helpers import chain, transform

BAD: list[tuple[str, dict[str, Any], str | None, str]] = [
    ("unknown type", chain({"id": "a", "type": "action.teleport", "config": {}}), "a", "type"),
    (
        "dangling edge",
        chain(transform("a", 1), edges=[{"from": "a", "to": "ghost"}]),
        None,
        "edges[0].to",
    ),
    (
        "cycle",
        chain(
            transform("a", 1),
            transform("b", 2),
            edges=[{"from": "a", "to": "b"}, {"from": "b", "to": "a"}],
        ),
        "a",
        "edges",
    ),
    (
        "self loop",
        chain(transform("a", 1), edges=[{"from": "a", "to": "a"}]),
        "a",
        "edges[0].to",
    ),
    (
        "bad config",
        chain({"id": "w", "type": "logic.wait", "config": {"minutes": 3}}),
        "w",
        "config",
    ),
    (
        "missing config field",
        chain({"id": "g", "type": "approval.gate", "config": {}}),
        "g",
        "config",
    ),
    (
        "expression does not parse",
        chain(transform("a", {"x": "{{ $vars.n + }}"})),
        "a",
        "config.output.x",
    ),
    (
        "unknown tool",
        chain({"id": "s", "type": "action.skill", "config": {"skill": "no.such"}}),
        "s",
        "config.skill",
    ),
    (
        "label the node can't produce",
        chain(
            {"id": "c", "type": "logic.if_else", "config": {"condition": "{{ true }}"}},
            transform("b", 1),
            edges=[{"from": "c", "to": "b", "when": "maybe"}],
        ),
        "c",
        "edges[0].when",
    ),
    (
        "two triggers",
        {**chain(transform("a", 1)), "trigger": [{"type": "manual"}] * 2},
        None,
        "trigger",
    ),
    (
        "bad cron",
        {**chain(transform("a", 1)), "trigger": {"type": "cron", "expression": "61 *"}},
        None,
        "trigger.expression",
    ),
    ("bad retry", chain(transform("a", 1, retry={"maxAttempts": 0})), "a", "retry.maxAttempts"),
    ("duplicate id", chain(transform("a", 1), transform("a", 2), edges=[]), "a", "id"),
]


@pytest.mark.parametrize(("case", "definition", "node", "field"), BAD, ids=[b[0] for b in BAD])
async def test_a_bad_definition_is_a_422_naming_node_and_field(
    client: httpx.AsyncClient,
    admin: Caller,
    case: str,
    definition: dict[str, Any],
    node: str | None,
    field: str,
) -> None:
    for path in ("/api/workflows", "/api/workflows/validate"):
        response = await client.post(path, headers=admin.headers, json=definition)
        error = assert_error(response, 422, "validation_failed")
        assert error["details"]["node"] == node, error
        assert error["details"]["field"] == field, error
    listed = (await client.get("/api/workflows", headers=admin.headers)).json()
    assert listed["items"] == []


async def test_an_oversize_definition_is_a_413_and_too_many_nodes_a_422(
    client: httpx.AsyncClient, admin: Caller, app: Any
) -> None:
    settings = app.state.gateway.settings
    many = [transform(f"n{i}", i) for i in range(settings.workflow_max_nodes + 1)]
    response = await client.post("/api/workflows", headers=admin.headers, json=chain(*many))
    assert assert_error(response, 422, "validation_failed")["details"]["field"] == "nodes"
    big = chain(transform("a", "x" * (settings.workflow_max_definition_bytes + 1)))
    response = await client.post("/api/workflows", headers=admin.headers, json=big)
    assert_error(response, 413, "payload_too_large")
    assert (await client.get("/api/workflows", headers=admin.headers)).json()["items"] == []


async def test_a_valid_definition_validates_with_its_risk(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    definition = chain(
        {"id": "code", "type": "action.execute_code", "config": {"code": "print(1)"}},
        transform("t", "{{ $node.code.output.stdout }}"),
    )
    response = await client.post("/api/workflows/validate", headers=admin.headers, json=definition)
    assert response.status_code == 200, response.text
    assert response.json()["risk"] == "High"
    assert response.json()["valid"] is True


async def test_node_types_publish_a_schema_for_every_type(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    response = await client.get("/api/workflows/node-types?limit=200", headers=admin.headers)
    assert response.status_code == 200
    types = {t["type"]: t for t in response.json()["items"]}
    assert len(types) == 13
    assert "workflow.run" in types
    assert types["logic.if_else"]["labels"] == ["true", "false"]
    assert types["action.skill"]["configSchema"]["required"] == ["skill"]


async def test_the_readme_example_validates(client: httpx.AsyncClient, admin: Caller) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Workflows", 1)[1]
    example = json.loads(section.split("```json", 1)[1].split("```", 1)[0])
    response = await client.post("/api/workflows/validate", headers=admin.headers, json=example)
    assert response.status_code == 200, response.text
    assert response.json()["risk"] == "Medium"
