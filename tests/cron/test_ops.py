"""Operations: the health report shows the cron scheduler and its next due time; restarting the
scheduler reloads schedules without restarting the Gateway (and is audited)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from sophon.realtime.hubs.notifications import NotificationsHub
from tests.cron.cron_helpers import create_job, tick
from tests.identity_helpers import Caller


async def test_health_shows_the_scheduler_and_restart_reloads_it(
    client: httpx.AsyncClient, admin: Caller, app: FastAPI
) -> None:
    job = await create_job(client, admin, name="soon", expression="*/5 * * * *")
    await tick(app)
    health = (await client.get("/api/ops/health", headers=admin.headers)).json()
    cron = health["scheduler"]["cron"]
    assert cron["state"] == "off"  # these tests tick the scheduler themselves
    assert cron["nextDueAt"] == job["nextRunAt"]
    restarted = await client.post("/api/ops/scheduler/restart", headers=admin.headers)
    assert restarted.status_code == 200, restarted.text
    assert restarted.json()["state"] == "off"
    health = (await client.get("/api/ops/health", headers=admin.headers)).json()
    assert health["scheduler"]["cron"]["restarts"] == 1
    trail = await client.get(
        "/api/admin/audit", headers=admin.headers, params={"action": "ops.restart"}
    )
    assert [e["details"]["service"] for e in trail.json()["items"]] == ["scheduler"]


def test_cron_events_reach_the_notifications_hub() -> None:
    assert {"CronFired", "CronFailed"} <= NotificationsHub.forwards
