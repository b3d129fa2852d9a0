"""Firing on a controllable clock: once per due time, never early, never again after a restart,
misfires coalesced (or one `Missed`), resume without backlog, manual triggers, overlap policies,
one-shots and pauses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from standardwebhooks import Webhook

from sophon.cron.scheduler import CronScheduler
from sophon.gateway import Gateway
from tests.chat.chat_helpers import EventLog
from tests.conftest import FakeClock
from tests.cron.cron_helpers import (
    approve,
    create_job,
    get_job,
    history,
    settled,
    tick,
    webhook,
)
from tests.identity_helpers import Caller
from tests.llm.fakes import FakeServer, HeldReply, JsonReply

HOOK = "/hook"


@pytest.fixture
async def hooks(fake_server: FakeServer) -> AsyncIterator[FakeServer]:
    fake_server.reset()
    yield fake_server
    fake_server.reset()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


async def _hook_job(
    client: httpx.AsyncClient, admin: Caller, hooks: FakeServer, **fields: Any
) -> dict[str, Any]:
    job = await create_job(
        client, admin, action=webhook(f"{hooks.url}{HOOK}", body={"hello": "cron"}), **fields
    )
    secret = job["signingSecret"]
    job = await approve(client, admin, job)
    job["signingSecret"] = secret
    return job


async def test_a_due_job_fires_once_signed_and_moves_on(
    client: httpx.AsyncClient,
    admin: Caller,
    app: FastAPI,
    clock: FakeClock,
    hooks: FakeServer,
    events: EventLog,
) -> None:
    hooks.script("POST", HOOK, JsonReply({"ok": True}))
    job = await _hook_job(client, admin, hooks, name="ping", expression="*/5 * * * *")
    due = _at(job["nextRunAt"])
    clock.now = due - timedelta(seconds=1)
    await tick(app)
    assert await history(client, admin, job["id"]) == []
    clock.now = due
    await tick(app)
    await tick(app)
    (run,) = await settled(client, admin, job["id"])
    assert run["status"] == "Succeeded", run
    assert run["trigger"] == "schedule"
    assert _at(run["scheduledFor"]) == due
    assert run["durationMs"] is not None
    (request,) = hooks.received(HOOK)
    assert request.json() == {"hello": "cron"}
    assert Webhook(job["signingSecret"]).verify(request.body, request.headers) == {"hello": "cron"}
    after = await get_job(client, admin, job["id"])
    assert _at(after["nextRunAt"]) == due + timedelta(minutes=5)
    assert after["lastStatus"] == "Succeeded"
    fired = await events.wait_for(lambda e: e.name == "CronFired")
    assert fired.payload["jobId"] == job["id"]
    assert fired.audience.user_ids == frozenset({admin.id})


async def test_another_gateway_never_fires_early_nor_again(
    client: httpx.AsyncClient,
    admin: Caller,
    app: FastAPI,
    gateway: Gateway,
    clock: FakeClock,
    hooks: FakeServer,
) -> None:
    hooks.script("POST", HOOK, JsonReply({"ok": True}))
    job = await _hook_job(client, admin, hooks, name="once", expression="0 * * * *")
    due = _at(job["nextRunAt"])
    restarted = CronScheduler(gateway.db, gateway.bus, gateway.cron)  # a fresh process's view
    clock.now = due - timedelta(milliseconds=1)
    assert await restarted.tick() == 0
    assert restarted.next_due == due
    clock.now = due
    await tick(app)  # fired, recorded and queued in one commit (a kill -9 may follow)
    assert await restarted.tick() == 0
    assert await CronScheduler(gateway.db, gateway.bus, gateway.cron).tick() == 0
    runs = await settled(client, admin, job["id"])
    assert len(runs) == 1


async def test_missed_times_run_once_within_the_grace(
    client: httpx.AsyncClient, admin: Caller, app: FastAPI, clock: FakeClock, hooks: FakeServer
) -> None:
    hooks.script("POST", HOOK, JsonReply({"ok": True}))
    job = await _hook_job(client, admin, hooks, name="catch", expression="*/5 * * * *")
    due = _at(job["nextRunAt"])
    clock.now = due + timedelta(minutes=22)  # five fire times went by while "down"
    await tick(app)
    (run,) = await settled(client, admin, job["id"])
    assert run["trigger"] == "catch-up"
    assert run["status"] == "Succeeded"
    assert _at(run["scheduledFor"]) == due + timedelta(minutes=20)
    assert len(hooks.received(HOOK)) == 1
    after = await get_job(client, admin, job["id"])
    assert _at(after["nextRunAt"]) == due + timedelta(minutes=25)


async def test_missed_beyond_the_grace_is_recorded_once_and_not_run(
    client: httpx.AsyncClient, admin: Caller, app: FastAPI, clock: FakeClock, hooks: FakeServer
) -> None:
    job = await _hook_job(
        client, admin, hooks, name="late", expression="*/5 * * * *", misfireGraceSeconds=60
    )
    due = _at(job["nextRunAt"])
    clock.now = due + timedelta(minutes=22)
    await tick(app)
    await tick(app)
    (run,) = await history(client, admin, job["id"])
    assert (run["status"], run["trigger"]) == ("Missed", "catch-up")
    assert _at(run["scheduledFor"]) == due + timedelta(minutes=20)
    assert hooks.received(HOOK) == []
    assert _at((await get_job(client, admin, job["id"]))["nextRunAt"]) == due + timedelta(
        minutes=25
    )


async def test_pause_stops_fires_and_resume_counts_from_now(
    client: httpx.AsyncClient, admin: Caller, app: FastAPI, clock: FakeClock, hooks: FakeServer
) -> None:
    job = await _hook_job(client, admin, hooks, name="paused", expression="*/5 * * * *")
    due = _at(job["nextRunAt"])
    await client.post(f"/api/cron/{job['id']}/pause", headers=admin.headers)
    clock.now = due + timedelta(minutes=30)
    await tick(app)
    assert await history(client, admin, job["id"]) == []
    resumed = await client.post(f"/api/cron/{job['id']}/resume", headers=admin.headers)
    assert _at(resumed.json()["nextRunAt"]) > clock.now
    await tick(app)
    assert await history(client, admin, job["id"]) == []


async def test_trigger_runs_now_and_leaves_next_run_at_alone(
    client: httpx.AsyncClient, admin: Caller, clock: FakeClock, hooks: FakeServer
) -> None:
    hooks.script("POST", HOOK, JsonReply({"ok": True}))
    job = await _hook_job(client, admin, hooks, name="manual", expression="0 0 1 1 *")
    triggered = await client.post(f"/api/cron/{job['id']}/trigger", headers=admin.headers)
    assert triggered.status_code == 200, triggered.text
    assert triggered.json()["trigger"] == "manual"
    (run,) = await settled(client, admin, job["id"])
    assert run["status"] == "Succeeded"
    assert (await get_job(client, admin, job["id"]))["nextRunAt"] == job["nextRunAt"]


async def _trigger(client: httpx.AsyncClient, admin: Caller, job_id: str) -> dict[str, Any]:
    response = await client.post(f"/api/cron/{job_id}/trigger", headers=admin.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def _until(condition: Any, within: float = 10.0) -> None:
    for _ in range(int(within / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition did not come true in time")


async def test_overlap_skip_records_skipped_while_a_run_is_running(
    client: httpx.AsyncClient, admin: Caller, hooks: FakeServer
) -> None:
    held = HeldReply()
    hooks.script("POST", HOOK, held)
    job = await _hook_job(client, admin, hooks, name="skipper", expression="@daily")
    first = await _trigger(client, admin, job["id"])
    await _until(lambda: held.waiting == 1)
    second = await _trigger(client, admin, job["id"])
    assert (first["status"], second["status"]) == ("Running", "Skipped")
    held.release.set()
    runs = await settled(client, admin, job["id"], count=2)
    assert sorted(r["status"] for r in runs) == ["Skipped", "Succeeded"]


async def test_overlap_queue_runs_one_after_another(
    client: httpx.AsyncClient, admin: Caller, hooks: FakeServer
) -> None:
    held = HeldReply()
    hooks.script("POST", HOOK, held, JsonReply({"ok": True}))
    job = await _hook_job(
        client, admin, hooks, name="queued", expression="@daily", overlapPolicy="queue"
    )
    await _trigger(client, admin, job["id"])
    await _until(lambda: held.waiting == 1)
    await _trigger(client, admin, job["id"])
    await asyncio.sleep(1.5)  # longer than the queue's poll: the second would have started
    assert len(hooks.received(HOOK)) == 1
    held.release.set()
    runs = await settled(client, admin, job["id"], count=2)
    assert [r["status"] for r in runs] == ["Succeeded", "Succeeded"]
    assert len(hooks.received(HOOK)) == 2


async def test_overlap_allow_runs_in_parallel(
    client: httpx.AsyncClient, admin: Caller, hooks: FakeServer
) -> None:
    held = HeldReply()
    hooks.script("POST", HOOK, held, held)
    job = await _hook_job(
        client, admin, hooks, name="parallel", expression="@daily", overlapPolicy="allow"
    )
    await _trigger(client, admin, job["id"])
    await _trigger(client, admin, job["id"])
    await _until(lambda: held.waiting == 2)
    held.release.set()
    runs = await settled(client, admin, job["id"], count=2)
    assert [r["status"] for r in runs] == ["Succeeded", "Succeeded"]


async def test_a_one_shot_runs_once_and_completes(
    client: httpx.AsyncClient, admin: Caller, app: FastAPI, clock: FakeClock, hooks: FakeServer
) -> None:
    hooks.script("POST", HOOK, JsonReply({"ok": True}))
    at = (clock.now + timedelta(minutes=10)).replace(microsecond=0)
    job = await _hook_job(
        client,
        admin,
        hooks,
        name="remind",
        scheduleType="one-shot",
        expression=at.isoformat().replace("+00:00", "Z"),
    )
    assert _at(job["nextRunAt"]) == at
    clock.now = at + timedelta(seconds=2)
    await tick(app)
    await tick(app)
    (run,) = await settled(client, admin, job["id"])
    assert run["status"] == "Succeeded"
    after = await get_job(client, admin, job["id"])
    assert (after["status"], after["nextRunAt"]) == ("Completed", None)
