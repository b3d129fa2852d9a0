"""Workflows and the other domains: a workflow's `cron` trigger kept as its own cron job and
fired by the scheduler, a cron job's fire and a verified inbound webhook each starting a run with
their data (a paused workflow ignores them, saying so), and a run's events reaching the outbound
webhooks subscribed to `workflow.*`."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from standardwebhooks import Webhook as StandardWebhook

from sophon.settings import Settings
from tests.conftest import FakeClock
from tests.cron.cron_helpers import create_job, settled, tick
from tests.helpers import assert_error
from tests.identity_helpers import Caller
from tests.webhooks.helpers import add_webhook
from tests.webhooks.receiver import Receiver
from tests.workflows.wf_helpers import by_node, chain, create, transform, wait_run


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # the scheduler fires only when asked (`trigger`); polls stay fast for the runs
    return settings.model_copy(
        update={
            "cron_enabled": False,
            "rate_limits_enabled": False,
            "queue_poll_seconds": 0.5,
            "outbound_allow": "127.0.0.1",
            # the cron tests move the clock by hours: leases and sign-ins must outlive that
            "task_lease_seconds": 3600,
            "session_idle_minutes": 24 * 60,
            "access_token_minutes": 24 * 60,
        }
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


async def _workflow(client: httpx.AsyncClient, admin: Caller, output: object) -> dict[str, object]:
    return await create(client, admin, {**chain(transform("a", output)), "enabled": True})


async def test_a_cron_job_starts_its_workflow_with_its_input(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    workflow = await _workflow(client, admin, "{{ $input.greeting }}")
    job = await create_job(
        client,
        admin,
        name="morning flow",
        expression="@daily",
        action={"type": "workflow", "workflowId": workflow["id"], "input": {"greeting": "hi"}},
    )
    fired = await client.post(f"/api/cron/{job['id']}/trigger", headers=admin.headers)
    assert fired.status_code in (200, 202), fired.text
    (record,) = await settled(client, admin, str(job["id"]))
    assert record["status"] == "Succeeded", record
    runs = await client.get(f"/api/workflows/{workflow['id']}/runs", headers=admin.headers)
    (summary,) = runs.json()["items"]
    assert summary["taskId"] == record["taskId"]
    run = await wait_run(client, admin, str(workflow["id"]), summary["id"])
    assert run["status"] == "Completed"
    assert run["trigger"]["type"] == "cron"
    assert run["trigger"]["cronJobId"] == job["id"]
    assert by_node(run)["a"]["output"] == "hi"


async def test_a_cron_job_of_a_paused_workflow_is_skipped_saying_so(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    workflow = await _workflow(client, admin, 1)
    paused = await client.post(f"/api/workflows/{workflow['id']}/pause", headers=admin.headers)
    assert paused.status_code == 200, paused.text
    job = await create_job(
        client,
        admin,
        name="paused flow",
        expression="@daily",
        action={"type": "workflow", "workflowId": workflow["id"]},
    )
    await client.post(f"/api/cron/{job['id']}/trigger", headers=admin.headers)
    (record,) = await settled(client, admin, str(job["id"]))
    assert record["status"] == "Skipped"
    assert "paused" in record["error"]
    runs = await client.get(f"/api/workflows/{workflow['id']}/runs", headers=admin.headers)
    assert runs.json()["items"] == []


async def test_an_unknown_workflow_is_refused_by_cron_and_webhooks(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    action = {"type": "workflow", "workflowId": "wf_nope"}
    refused = await client.post(
        "/api/cron",
        headers=admin.headers,
        json={"name": "nothing", "expression": "@daily", "action": action},
    )
    assert_error(refused, 422, "validation_failed")
    listed = await client.get("/api/cron", headers=admin.headers)
    assert listed.json()["items"] == []
    refused = await client.post(
        "/api/webhooks",
        headers=admin.headers,
        json={"name": "in", "kind": "inbound", "scheme": "sophon", "action": action},
    )
    assert refused.status_code == 422, refused.text
    assert (await client.get("/api/webhooks", headers=admin.headers)).json()["items"] == []


async def test_an_inbound_webhook_starts_its_workflow_with_the_body_as_trigger(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    workflow = await _workflow(client, admin, "{{ $trigger.body.ref }}")
    hook = await add_webhook(
        client,
        admin,
        kind="inbound",
        scheme="sophon",
        action={"type": "workflow", "workflowId": workflow["id"]},
    )
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    digest = hmac.new(str(hook["secret"]).encode(), body, hashlib.sha256).hexdigest()
    received = await client.post(
        f"/api/webhooks/receive/{hook['slug']}",
        content=body,
        headers={"Content-Type": "application/json", "X-Sophon-Signature": f"sha256={digest}"},
    )
    assert received.status_code == 202, received.text
    task_id = received.json()["taskId"]
    runs = await client.get(f"/api/workflows/{workflow['id']}/runs", headers=admin.headers)
    (summary,) = runs.json()["items"]
    assert summary["taskId"] == task_id
    run = await wait_run(client, admin, str(workflow["id"]), summary["id"])
    assert run["trigger"]["type"] == "webhook"
    assert run["trigger"]["webhookId"] == hook["id"]
    assert by_node(run)["a"]["output"] == "refs/heads/main"


async def test_a_runs_events_reach_webhooks_subscribed_to_workflow_events(
    client: httpx.AsyncClient, admin: Caller, receiver: Receiver
) -> None:
    hook = await add_webhook(
        client, admin, kind="outbound", url=f"{receiver.url}/hook", eventTypes=["workflow.*"]
    )
    workflow = await _workflow(client, admin, 1)
    started = await client.post(f"/api/workflows/{workflow['id']}/trigger", headers=admin.headers)
    assert started.status_code == 202, started.text
    hits = await receiver.wait("/hook", count=2)
    verifier = StandardWebhook(str(hook["secret"]))
    payloads = {p["type"]: p for p in (verifier.verify(h.body, h.headers) for h in hits)}
    assert set(payloads) == {"workflow.run.started", "workflow.run.completed"}
    assert {p["data"]["runId"] for p in payloads.values()} == {started.json()["runId"]}
    assert payloads["workflow.run.completed"]["data"]["status"] == "Completed"


async def _cron_jobs(client: httpx.AsyncClient, admin: Caller) -> list[dict[str, object]]:
    listed = await client.get("/api/cron", headers=admin.headers)
    assert listed.status_code == 200, listed.text
    items: list[dict[str, object]] = listed.json()["items"]
    return items


async def test_a_cron_trigger_is_fired_by_the_scheduler_and_follows_the_workflow(
    client: httpx.AsyncClient, admin: Caller, app: FastAPI, clock: FakeClock
) -> None:
    schedule = {"type": "cron", "expression": "0 9 * * *", "timezone": "Europe/Berlin"}
    workflow = await create(
        client,
        admin,
        {**chain(transform("a", "{{ $trigger.type }}")), "trigger": schedule, "enabled": True},
    )
    (job,) = await _cron_jobs(client, admin)
    assert job["name"] == f"workflow:{workflow['id']}"
    assert (job["expression"], job["timezone"]) == ("0 9 * * *", "Europe/Berlin")
    assert job["action"] == {"type": "workflow", "workflowId": workflow["id"]}
    assert job["status"] == "Active"
    due = datetime.fromisoformat(str(job["nextRunAt"]).replace("Z", "+00:00"))
    assert due.astimezone(ZoneInfo("Europe/Berlin")).hour == 9
    clock.now = due
    await tick(app)
    (fired,) = await settled(client, admin, str(job["id"]))
    assert fired["status"] == "Succeeded", fired
    runs = await client.get(f"/api/workflows/{workflow['id']}/runs", headers=admin.headers)
    (summary,) = runs.json()["items"]
    run = await wait_run(client, admin, str(workflow["id"]), summary["id"])
    assert by_node(run)["a"]["output"] == "cron"

    path = f"/api/workflows/{workflow['id']}"
    moved = {**schedule, "expression": "30 10 * * *", "overlap": "allow"}
    assert (await client.patch(path, headers=admin.headers, json={"trigger": moved})).is_success
    (job,) = await _cron_jobs(client, admin)
    assert (job["expression"], job["overlapPolicy"]) == ("30 10 * * *", "allow")

    assert (await client.post(f"{path}/pause", headers=admin.headers)).is_success
    clock.now = datetime.fromisoformat(str(job["nextRunAt"]).replace("Z", "+00:00"))
    await tick(app)
    latest, _ = await settled(client, admin, str(job["id"]), count=2)
    assert latest["status"] == "Skipped"
    assert "paused" in latest["error"]
    assert len((await client.get(f"{path}/runs", headers=admin.headers)).json()["items"]) == 1

    manual = {"trigger": {"type": "manual"}}
    assert (await client.patch(path, headers=admin.headers, json=manual)).is_success
    assert await _cron_jobs(client, admin) == []
    assert (await client.patch(path, headers=admin.headers, json={"trigger": schedule})).is_success
    assert len(await _cron_jobs(client, admin)) == 1
    assert (await client.delete(path, headers=admin.headers)).status_code == 204
    assert await _cron_jobs(client, admin) == []
