"""Helpers for the workflow tests: definitions, create, trigger, wait for a run."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx

from tests.identity_helpers import Caller

FINISHED = ("Completed", "Failed", "Cancelled")


def chain(
    *nodes: dict[str, Any], edges: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    """A manual-trigger definition; without `edges` the nodes are chained in order."""
    if edges is None:
        edges = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {
        "name": "test flow",
        "trigger": {"type": "manual"},
        "nodes": list(nodes),
        "edges": edges,
        **extra,
    }


def transform(node_id: str, output: Any, **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "data.transform", "config": {"output": output}, **fields}


async def create(
    client: httpx.AsyncClient, caller: Caller, definition: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post("/api/workflows", headers=caller.headers, json=definition)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def trigger(
    client: httpx.AsyncClient, caller: Caller, workflow_id: str, input_: Any = None
) -> dict[str, Any]:
    response = await client.post(
        f"/api/workflows/{workflow_id}/trigger", headers=caller.headers, json={"input": input_}
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def run_of(
    client: httpx.AsyncClient, caller: Caller, workflow_id: str, run_id: str
) -> dict[str, Any]:
    response = await client.get(
        f"/api/workflows/{workflow_id}/runs/{run_id}", headers=caller.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_run(
    client: httpx.AsyncClient,
    caller: Caller,
    workflow_id: str,
    run_id: str,
    until: tuple[str, ...] = FINISHED,
    seconds: float = 20,
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        run = await run_of(client, caller, workflow_id, run_id)
        if run["status"] in until:
            return run
        assert asyncio.get_running_loop().time() < deadline, run
        await asyncio.sleep(0.1)


def by_node(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The latest record of each node."""
    latest: dict[str, dict[str, Any]] = {}
    for record in run["nodes"]:
        latest[record["nodeId"]] = record
    return latest


async def create_approved(
    client: httpx.AsyncClient, caller: Caller, definition: dict[str, Any]
) -> dict[str, Any]:
    """A risky workflow, enabled and its activation approved."""
    workflow = await create(client, caller, {**definition, "enabled": True})
    if workflow["approval"] == "Pending":
        response = await client.post(
            f"/api/approvals/{workflow['approvalId']}/approve", headers=caller.headers
        )
        assert response.status_code == 200, response.text
    return workflow
