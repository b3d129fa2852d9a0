"""Runs end to end through the API: a chain of transforms with expressions, branches taken and
skipped, the run as a task of kind `workflow` in the ledger, and its events."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.chat.chat_helpers import EventLog
from tests.identity_helpers import Caller
from tests.workflows.wf_helpers import by_node, chain, create, transform, trigger, wait_run


async def test_a_chain_of_transforms_runs_with_typed_expressions(
    client: httpx.AsyncClient, admin: Caller, events: EventLog
) -> None:
    definition = chain(
        transform("a", {"n": "{{ $input.n * 2 }}", "text": "n={{ $input.n }}"}),
        transform(
            "b", {"sum": "{{ $node.a.output.n + $vars.base }}", "up": "{{ $trigger.type | upper }}"}
        ),
        vars={"base": 10},
    )
    workflow = await create(client, admin, definition)
    assert workflow["version"] == 1
    assert workflow["approval"] == "NotNeeded"
    started = await trigger(client, admin, workflow["id"], {"n": 4})
    run = await wait_run(client, admin, workflow["id"], started["runId"])
    assert run["status"] == "Completed", run
    nodes = by_node(run)
    assert nodes["a"]["output"] == {"n": 8, "text": "n=4"}
    assert nodes["b"]["output"] == {"sum": 18, "up": "MANUAL"}
    assert run["output"] == {"b": {"sum": 18, "up": "MANUAL"}}
    task = (await client.get(f"/api/tasks/{started['taskId']}", headers=admin.headers)).json()
    assert task["kind"] == "workflow"
    assert task["status"] == "Completed"
    names = [e.name for e in events.seen if e.payload.get("runId") == started["runId"]]
    assert names[0] == "WorkflowRunStarted"
    assert names[-1] == "WorkflowRunCompleted"
    assert names.count("WorkflowNodeStarted") == 2


async def test_an_output_over_the_limit_is_stored_truncated_with_a_note(
    client: httpx.AsyncClient, admin: Caller, app: FastAPI
) -> None:
    limit = app.state.gateway.settings.workflow_max_output_bytes
    workflow = await create(
        client,
        admin,
        chain(
            transform("big", "{{ 'x' * $input.n }}"),
            transform("len", "{{ $node.big.output.preview | length }}"),
        ),
    )
    started = await trigger(client, admin, workflow["id"], {"n": limit + 10})
    run = await wait_run(client, admin, workflow["id"], started["runId"])
    stored = by_node(run)["big"]["output"]
    assert stored["truncated"] is True
    assert str(limit) in stored["note"]
    assert by_node(run)["len"]["output"] == limit
