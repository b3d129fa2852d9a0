"""The logic nodes and per-node error handling: branches taken and skipped, switch, loop with
its cap, parallel joins, retry, onError continue and route, sub-workflows."""

from __future__ import annotations

import httpx

from tests.identity_helpers import Caller
from tests.workflows.wf_helpers import by_node, chain, create, transform, trigger, wait_run


def if_else(node_id: str, condition: str) -> dict[str, object]:
    return {"id": node_id, "type": "logic.if_else", "config": {"condition": condition}}


async def test_if_else_takes_one_branch_and_the_other_is_skipped(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    definition = chain(
        if_else("check", "{{ $input.amount > 100 }}"),
        transform("big", "big"),
        transform("small", "small"),
        transform("after", "{{ $node.big.status }}"),
        edges=[
            {"from": "check", "to": "big", "when": "true"},
            {"from": "check", "to": "small", "when": "false"},
            {"from": "big", "to": "after"},
        ],
    )
    workflow = await create(client, admin, definition)
    started = await trigger(client, admin, workflow["id"], {"amount": 5})
    run = await wait_run(client, admin, workflow["id"], started["runId"])
    nodes = by_node(run)
    assert run["status"] == "Completed"
    assert nodes["check"]["output"] == {"result": False}
    assert nodes["small"]["status"] == "Completed"
    assert nodes["big"]["status"] == "Skipped"
    assert nodes["after"]["status"] == "Skipped"
    started = await trigger(client, admin, workflow["id"], {"amount": 500})
    nodes = by_node(await wait_run(client, admin, workflow["id"], started["runId"]))
    assert nodes["small"]["status"] == "Skipped"
    assert nodes["after"]["output"] == "Completed"


async def test_switch_routes_by_value_with_a_default(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    definition = chain(
        {
            "id": "s",
            "type": "logic.switch",
            "config": {"value": "{{ $input.kind }}", "cases": ["a", "b"]},
        },
        transform("on_a", "A"),
        transform("other", "?"),
        edges=[
            {"from": "s", "to": "on_a", "when": "a"},
            {"from": "s", "to": "other", "when": "default"},
        ],
    )
    workflow = await create(client, admin, definition)
    for kind, taken, skipped in (("a", "on_a", "other"), ("zzz", "other", "on_a")):
        started = await trigger(client, admin, workflow["id"], {"kind": kind})
        nodes = by_node(await wait_run(client, admin, workflow["id"], started["runId"]))
        assert nodes[taken]["status"] == "Completed"
        assert nodes[skipped]["status"] == "Skipped"


async def test_loop_runs_its_step_per_item_and_refuses_a_runaway(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    loop = {
        "id": "each",
        "type": "logic.loop",
        "config": {
            "items": "{{ $input.items }}",
            "maxIterations": 5,
            "do": {"type": "data.transform", "config": {"output": "{{ $item * 10 + $index }}"}},
        },
    }
    workflow = await create(client, admin, chain(loop))
    started = await trigger(client, admin, workflow["id"], {"items": [1, 2, 3]})
    run = await wait_run(client, admin, workflow["id"], started["runId"])
    assert by_node(run)["each"]["output"] == [10, 21, 32], (run["error"], run["nodes"])
    started = await trigger(client, admin, workflow["id"], {"items": list(range(6))})
    run = await wait_run(client, admin, workflow["id"], started["runId"])
    assert run["status"] == "Failed"
    assert run["error"]["code"] == "too_many_iterations"
    assert run["error"]["nodeId"] == "each"


async def test_parallel_joins_all_or_the_first(client: httpx.AsyncClient, admin: Caller) -> None:
    branches = [
        {"type": "data.transform", "config": {"output": "one"}},
        {"type": "data.transform", "config": {"output": "{{ $input.x }}"}},
    ]
    definition = chain(
        {"id": "all", "type": "logic.parallel", "config": {"branches": branches}},
        {
            "id": "first",
            "type": "logic.parallel",
            "config": {"branches": branches, "join": "first"},
        },
    )
    workflow = await create(client, admin, definition)
    started = await trigger(client, admin, workflow["id"], {"x": 2})
    nodes = by_node(await wait_run(client, admin, workflow["id"], started["runId"]))
    assert nodes["all"]["output"] == ["one", 2]
    assert nodes["first"]["output"] in ("one", 2)


async def test_a_failing_node_retries_then_continues_or_routes(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    failing = "{{ $input.missing.field }}"
    definition = chain(
        transform(
            "flaky", failing, retry={"maxAttempts": 2, "backoffSeconds": 0}, onError="continue"
        ),
        transform("routed", failing, onError="route"),
        transform("on_error", "handled"),
        transform("not_taken", "x"),
        edges=[
            {"from": "flaky", "to": "routed"},
            {"from": "routed", "to": "on_error", "when": "error"},
            {"from": "routed", "to": "not_taken"},
        ],
    )
    workflow = await create(client, admin, definition)
    started = await trigger(client, admin, workflow["id"], {})
    run = await wait_run(client, admin, workflow["id"], started["runId"])
    assert run["status"] == "Completed", run
    attempts = [r for r in run["nodes"] if r["nodeId"] == "flaky"]
    assert [a["attempt"] for a in attempts] == [1, 2]
    assert attempts[-1]["error"]["code"] == "expression_error"
    assert "missing" in attempts[-1]["error"]["message"]
    nodes = by_node(run)
    assert nodes["on_error"]["output"] == "handled"
    assert nodes["not_taken"]["status"] == "Skipped"


async def test_a_failed_node_fails_the_run_and_retry_resumes_from_it(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    definition = chain(
        transform("first", {"n": 1}),
        transform("second", "{{ $input.n + $node.first.output.n }}"),
    )
    workflow = await create(client, admin, definition)
    started = await trigger(client, admin, workflow["id"], {"oops": True})
    run = await wait_run(client, admin, workflow["id"], started["runId"])
    assert run["status"] == "Failed"
    assert run["error"]["nodeId"] == "second"
    task = (await client.get(f"/api/tasks/{started['taskId']}", headers=admin.headers)).json()
    assert task["status"] == "Failed"
    retried = await client.post(
        f"/api/workflows/{workflow['id']}/runs/{started['runId']}/retry", headers=admin.headers
    )
    assert retried.status_code == 202, retried.text
    again = await wait_run(client, admin, workflow["id"], retried.json()["runId"])
    first = by_node(again)["first"]
    assert first["id"] != by_node(run)["first"]["id"]
    assert first["startedAt"] == by_node(run)["first"]["startedAt"]  # kept, not run again
    assert again["status"] == "Failed"  # the same input still misses n


async def test_a_sub_workflow_runs_as_a_child_task(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    child = await create(client, admin, chain(transform("c", "{{ $input.v * 3 }}")))
    parent = await create(
        client,
        admin,
        chain(
            {
                "id": "sub",
                "type": "workflow.run",
                "config": {"workflowId": child["id"], "input": {"v": "{{ $input.v }}"}},
            },
            transform("use", "{{ $node.sub.output.c + 1 }}"),
        ),
    )
    started = await trigger(client, admin, parent["id"], {"v": 2})
    run = await wait_run(client, admin, parent["id"], started["runId"])
    assert run["status"] == "Completed", run
    assert by_node(run)["use"]["output"] == 7
    task = (await client.get(f"/api/tasks/{started['taskId']}", headers=admin.headers)).json()
    assert len(task["children"]) == 1
