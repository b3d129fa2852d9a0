"""What a fire does: an agent turn in the job's own session whose reply notifies the owner, code
in the sandbox, a webhook refused again at fire time, and a job whose creator was suspended
failing with a clear error."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

import httpx
import pytest
from fastapi import FastAPI

from sophon.gateway import Gateway
from sophon.runtime.sandbox import sandbox_status
from tests.chat.chat_helpers import EventLog, wait_task
from tests.cron.cron_helpers import (
    CODE_OK,
    approve,
    create_job,
    history,
    runtime_of,
    settled,
    tick,
    webhook,
)
from tests.identity_helpers import Caller, add_user
from tests.llm.fakes import FakeServer, JsonReply, openai_completion

CHAT = "/v1/chat/completions"
STATUS = sandbox_status()
needs_sandbox = pytest.mark.skipif(
    os.environ.get("CI", "").lower() != "true" and not STATUS.available,
    reason=f"sandbox unavailable here ({STATUS.reason})",
)


async def _trigger(client: httpx.AsyncClient, caller: Caller, job_id: str) -> None:
    response = await client.post(f"/api/cron/{job_id}/trigger", headers=caller.headers)
    assert response.status_code == 200, response.text


async def test_an_agent_job_talks_in_its_own_session_and_notifies_its_owner(
    client: httpx.AsyncClient, admin: Caller, model: FakeServer, events: EventLog
) -> None:
    model.script(
        "POST",
        CHAT,
        JsonReply(openai_completion("All quiet.")),
        JsonReply(openai_completion("Still quiet.")),
    )
    job = await create_job(
        client,
        admin,
        name="status report",
        expression="@daily",
        action={"type": "agent", "agentId": "default", "message": "Any news?"},
    )
    assert job["status"] == "Active"  # the default agent has no risky tools
    await _trigger(client, admin, job["id"])
    (first,) = await settled(client, admin, job["id"])
    assert first["status"] == "Succeeded", first
    task = await wait_task(client, admin, first["taskId"])
    assert task["kind"] == "cron"
    notice = await events.wait_for(
        lambda e: e.name == "Notification" and e.payload.get("kind") == "cron"
    )
    assert notice.payload["body"] == "All quiet."
    assert notice.audience.user_ids == frozenset({admin.id})
    await _trigger(client, admin, job["id"])
    runs = await settled(client, admin, job["id"], count=2)
    second = await wait_task(client, admin, runs[0]["taskId"])
    assert second["sessionId"] == task["sessionId"]  # one readable conversation
    session = await client.get(f"/api/sessions/{task['sessionId']}", headers=admin.headers)
    assert session.json()["title"] == "cron:status report"
    listed = await client.get(f"/api/sessions/{task['sessionId']}/messages", headers=admin.headers)
    contents = [m["content"] for m in listed.json()["items"]]
    assert sorted(contents) == sorted(["Any news?", "All quiet.", "Any news?", "Still quiet."])


async def test_an_agent_with_risky_tools_waits_for_approval(
    client: httpx.AsyncClient, admin: Caller, agent_id: str
) -> None:
    job = await create_job(
        client, admin, action={"type": "agent", "agentId": agent_id, "message": "Run the checks."}
    )
    assert job["status"] == "PendingApproval"


@needs_sandbox
async def test_a_code_job_runs_in_the_sandbox(client: httpx.AsyncClient, admin: Caller) -> None:
    ok = await approve(client, admin, await create_job(client, admin, name="ok", action=CODE_OK))
    failing = {**CODE_OK, "source": "import sys; sys.exit('boom')"}
    bad = await approve(client, admin, await create_job(client, admin, name="bad", action=failing))
    await _trigger(client, admin, ok["id"])
    await _trigger(client, admin, bad["id"])
    (good_run,) = await settled(client, admin, ok["id"])
    (bad_run,) = await settled(client, admin, bad["id"])
    assert good_run["status"] == "Succeeded", good_run
    assert bad_run["status"] == "Failed"
    assert "boom" in bad_run["error"]


async def test_a_webhook_to_a_name_that_now_resolves_privately_is_refused_at_fire_time(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway, events: EventLog
) -> None:
    async def private(host: str) -> Sequence[str]:
        return ["10.1.2.3"]

    gateway.cron.resolver = private
    job = await create_job(
        client, admin, name="rebound", action=webhook("http://hooks.example.com/in")
    )
    job = await approve(client, admin, job)
    await _trigger(client, admin, job["id"])
    (run,) = await settled(client, admin, job["id"])
    assert run["status"] == "Failed"
    assert "private" in run["error"]
    failed = await events.wait_for(lambda e: e.name == "CronFailed")
    assert failed.payload["runId"] == run["id"]


async def test_a_suspended_creators_jobs_fail_with_a_clear_error(
    client: httpx.AsyncClient, admin: Caller, model: FakeServer, events: EventLog
) -> None:
    owner = await add_user(client, admin, "owner@example.com", roles=["Admin"])
    job = await create_job(client, owner, name="theirs", expression="@daily")
    suspended = await client.patch(
        f"/api/admin/users/{owner.id}", headers=admin.headers, json={"status": "Suspended"}
    )
    assert suspended.status_code == 200, suspended.text
    await _trigger(client, admin, job["id"])
    (run,) = await settled(client, admin, job["id"])
    assert run["status"] == "Failed"
    assert "creator" in run["error"]
    assert run["taskId"] is None  # nothing ran on their behalf
    assert model.received(CHAT) == []
    trail = await client.get(
        "/api/admin/audit", headers=admin.headers, params={"action": "cron.fail"}
    )
    assert [e["resource"]["id"] for e in trail.json()["items"]] == [job["id"]]


async def test_a_creator_who_lost_the_permission_no_longer_runs_jobs(
    client: httpx.AsyncClient, admin: Caller, model: FakeServer
) -> None:
    owner = await add_user(client, admin, "demoted@example.com", roles=["Admin"])
    job = await create_job(client, owner, name="demoted", expression="@daily")
    await client.patch(
        f"/api/admin/users/{owner.id}", headers=admin.headers, json={"roles": ["Member"]}
    )
    await _trigger(client, admin, job["id"])
    (run,) = await settled(client, admin, job["id"])
    assert run["status"] == "Failed"
    assert "ManageCronJobs" in run["error"]


async def test_an_agent_run_whose_end_went_unseen_is_settled_by_the_next_tick(
    client: httpx.AsyncClient, admin: Caller, model: FakeServer, app: FastAPI
) -> None:
    model.script("POST", CHAT, JsonReply(openai_completion("Done.")))
    job = await create_job(client, admin, name="unseen", expression="@daily")
    await runtime_of(app).cron.stop()  # no listener: the task's end is not heard
    await _trigger(client, admin, job["id"])
    for _ in range(400):  # until its turn is queued
        runs = await history(client, admin, job["id"])
        if runs[0]["taskId"]:
            break
        await asyncio.sleep(0.05)
    task = await wait_task(client, admin, runs[0]["taskId"])
    assert task["status"] == "Completed"
    assert (await history(client, admin, job["id"]))[0]["status"] == "Running"
    await tick(app)
    (settled_run,) = await history(client, admin, job["id"])
    assert settled_run["status"] == "Succeeded"


async def test_a_run_that_keeps_crashing_ends_failed_after_its_retry(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway
) -> None:
    async def broken(host: str) -> Sequence[str]:
        raise RuntimeError("resolver exploded")

    gateway.cron.resolver = broken
    job = await approve(
        client,
        admin,
        await create_job(client, admin, name="crashy", action=webhook("http://x.example.com/")),
    )
    await _trigger(client, admin, job["id"])
    (run,) = await settled(client, admin, job["id"], within=30)
    assert run["status"] == "Failed"
    assert "resolver exploded" in run["error"]
