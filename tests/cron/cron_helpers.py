"""Driving cron jobs through the public API in tests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI

from sophon.runtime.engine import AgentRuntime
from tests.identity_helpers import Caller

CODE_OK = {"type": "code", "language": "python", "source": "print('hi')"}


def webhook(url: str, **extra: Any) -> dict[str, Any]:
    return {"type": "webhook", "url": url, **extra}


async def create_job(
    client: httpx.AsyncClient, caller: Caller, *, expect: int = 201, **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "job",
        "expression": "*/5 * * * *",
        "action": {"type": "agent", "agentId": "default", "message": "Report."},
        **fields,
    }
    response = await client.post("/api/cron", headers=caller.headers, json=body)
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


async def approve(client: httpx.AsyncClient, caller: Caller, job: dict[str, Any]) -> dict[str, Any]:
    """Approves a job waiting in PendingApproval; the job as it is then."""
    assert job["status"] == "PendingApproval", job
    decided = await client.post(
        f"/api/approvals/{job['approvalId']}/approve", headers=caller.headers
    )
    assert decided.status_code == 200, decided.text
    return await get_job(client, caller, job["id"])


async def get_job(
    client: httpx.AsyncClient, caller: Caller, job_id: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(f"/api/cron/{job_id}", headers=caller.headers, params=params)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def history(client: httpx.AsyncClient, caller: Caller, job_id: str) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/cron/{job_id}/history", headers=caller.headers, params={"limit": 200}
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def runtime_of(app: FastAPI) -> AgentRuntime:
    runtime: AgentRuntime | None = app.state.runtime
    assert runtime is not None
    return runtime


async def tick(app: FastAPI) -> int:
    return await runtime_of(app).cron.tick()


async def settled(
    client: httpx.AsyncClient, caller: Caller, job_id: str, count: int = 1, within: float = 30.0
) -> list[dict[str, Any]]:
    """The job's history once `count` runs have finished (newest first)."""
    async with asyncio.timeout(within):
        while True:
            runs = await history(client, caller, job_id)
            done = [r for r in runs if r["status"] != "Running"]
            if len(done) >= count:
                return runs
            await asyncio.sleep(0.05)
