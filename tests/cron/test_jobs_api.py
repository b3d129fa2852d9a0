"""`/api/cron`: create, read (with a preview), change, pause, resume, delete; every bad input is
a 422 (or 409) naming the field, with nothing written; who may read and who may change."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.cron.cron_helpers import CODE_OK, approve, create_job, get_job, webhook
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user


async def _count(client: httpx.AsyncClient, admin: Caller) -> int:
    response = await client.get("/api/cron", headers=admin.headers, params={"limit": 200})
    return len(response.json()["items"])


async def test_create_read_preview_and_list(client: httpx.AsyncClient, admin: Caller) -> None:
    job = await create_job(
        client, admin, name="morning", expression="0 9 * * MON-FRI", timezone="Europe/Berlin"
    )
    assert job["id"].startswith("cron_")
    assert job["status"] == "Active"
    assert job["enabled"] is True
    assert job["scheduleType"] == "recurring"
    assert job["overlapPolicy"] == "skip"
    assert job["misfireGraceSeconds"] == 3600
    assert job["createdBy"] == admin.id
    assert job["nextRunAt"].endswith("Z")
    assert job["action"]["type"] == "agent"
    assert job["action"]["agentId"].startswith("agt_")  # the name was resolved
    read = await get_job(client, admin, job["id"], preview=5)
    assert len(read["preview"]) == 5
    assert read["preview"][0] == job["nextRunAt"]
    assert read["preview"] == sorted(read["preview"])
    listed = (await client.get("/api/cron", headers=admin.headers)).json()
    assert [j["id"] for j in listed["items"]] == [job["id"]]
    assert listed["hasMore"] is False


async def test_default_time_zone_is_utc(client: httpx.AsyncClient, admin: Caller) -> None:
    job = await create_job(client, admin)
    assert job["timezone"] == "UTC"


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"expression": "0 25 * * *"}, "body.expression", "Bad hour"),
        ({"expression": "*/2 * * * * *"}, "body.expression", "10 seconds"),
        ({"scheduleType": "interval", "expression": "30s"}, "body.expression", "1 minute"),
        ({"scheduleType": "one-shot", "expression": "soon"}, "body.expression", "ISO 8601"),
        ({"timezone": "Mars/Olympus"}, "body.timezone", "unknown IANA time zone"),
        (
            {"action": {"type": "agent", "agentId": "nobody", "message": "hi"}},
            "body.action.agentId",
            "agent not found",
        ),
        (
            {"action": {"type": "workflow", "workflowId": "wf_x"}},
            "body.action.workflowId",
            "workflow not found",
        ),
        ({"action": webhook("http://10.0.0.7/hook")}, "body.action.url", "private"),
        ({"action": webhook("http://[::1]:9/hook")}, "body.action.url", "loopback"),
        ({"action": webhook("http://169.254.169.254/")}, "body.action.url", "refused"),
        ({"action": webhook("ftp://example.com/")}, "body.action.url", "http"),
        ({"misfireGraceSeconds": -1}, "body.misfireGraceSeconds", ""),
        ({"overlapPolicy": "sometimes"}, "body.overlapPolicy", ""),
    ],
)
async def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    client: httpx.AsyncClient, admin: Caller, fields: dict[str, Any], field: str, words: str
) -> None:
    body = {
        "name": "bad",
        "expression": "*/5 * * * *",
        "action": {"type": "agent", "agentId": "default", "message": "hi"},
        **fields,
    }
    response = await client.post("/api/cron", headers=admin.headers, json=body)
    error = assert_error(response, 422, "validation_failed")
    named = error["details"]["fields"]
    assert any(f["field"] == field and words in f["message"] for f in named), named
    assert await _count(client, admin) == 0


async def test_names_are_unique_per_tenant(client: httpx.AsyncClient, admin: Caller) -> None:
    await create_job(client, admin, name="Daily")
    again = await client.post(
        "/api/cron",
        headers=admin.headers,
        json={"name": "daily", "expression": "@daily", "action": CODE_OK},
    )
    assert_error(again, 409, "conflict")
    assert await _count(client, admin) == 1


async def test_the_job_count_is_bounded(client: httpx.AsyncClient, admin: Caller, app: Any) -> None:
    app.state.gateway.cron.settings = app.state.gateway.settings.model_copy(
        update={"cron_max_jobs_per_tenant": 2}
    )
    await create_job(client, admin, name="one")
    await create_job(client, admin, name="two")
    third = await client.post(
        "/api/cron",
        headers=admin.headers,
        json={"name": "three", "expression": "@daily", "action": CODE_OK},
    )
    assert assert_error(third, 422, "validation_failed")["details"]["limit"] == 2
    assert await _count(client, admin) == 2


async def test_patch_pause_resume_and_delete(client: httpx.AsyncClient, admin: Caller) -> None:
    job = await create_job(client, admin, name="tidy")
    patched = await client.patch(
        f"/api/cron/{job['id']}",
        headers=admin.headers,
        json={"expression": "0 3 * * *", "timezone": "Asia/Tokyo", "overlapPolicy": "queue"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["expression"] == "0 3 * * *"
    assert patched.json()["overlapPolicy"] == "queue"
    assert patched.json()["nextRunAt"] != job["nextRunAt"]
    bad = await client.patch(
        f"/api/cron/{job['id']}", headers=admin.headers, json={"expression": "nope"}
    )
    assert_error(bad, 422, "validation_failed")
    assert (await get_job(client, admin, job["id"]))["expression"] == "0 3 * * *"
    paused = (await client.post(f"/api/cron/{job['id']}/pause", headers=admin.headers)).json()
    assert (paused["status"], paused["enabled"], paused["nextRunAt"]) == ("Paused", False, None)
    resumed = (await client.post(f"/api/cron/{job['id']}/resume", headers=admin.headers)).json()
    assert (resumed["status"], resumed["enabled"]) == ("Active", True)
    assert resumed["nextRunAt"] is not None
    deleted = await client.delete(f"/api/cron/{job['id']}", headers=admin.headers)
    assert deleted.status_code == 204
    gone = await client.get(f"/api/cron/{job['id']}", headers=admin.headers)
    assert_error(gone, 404, "not_found")
    trail = await client.get("/api/admin/audit", headers=admin.headers, params={"action": "cron."})
    assert trail.status_code == 200, trail.text
    actions = {e["action"] for e in trail.json()["items"]}
    assert {"cron.create", "cron.update", "cron.pause", "cron.resume", "cron.delete"} <= actions


async def test_risky_actions_wait_for_an_approval(client: httpx.AsyncClient, admin: Caller) -> None:
    job = await create_job(client, admin, name="script", action=CODE_OK)
    assert (job["status"], job["nextRunAt"]) == ("PendingApproval", None)
    trigger = await client.post(f"/api/cron/{job['id']}/trigger", headers=admin.headers)
    assert_error(trigger, 409, "conflict")
    approved = await approve(client, admin, job)
    assert approved["status"] == "Active"
    assert approved["nextRunAt"] is not None
    edited = await client.patch(
        f"/api/cron/{job['id']}",
        headers=admin.headers,
        json={"action": {**CODE_OK, "source": "print('changed')"}},
    )
    assert edited.json()["status"] == "PendingApproval"
    assert edited.json()["approvalId"] not in (None, job["approvalId"])
    schedule_only = await client.patch(
        f"/api/cron/{job['id']}", headers=admin.headers, json={"expression": "@hourly"}
    )
    assert schedule_only.json()["status"] == "PendingApproval"


async def test_webhook_jobs_get_a_signing_secret_once(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    job = await create_job(client, admin, name="hook", action=webhook("http://127.0.0.1:9/x"))
    assert job["signingSecret"].startswith("whsec_")
    assert (await get_job(client, admin, job["id"]))["signingSecret"] is None


async def test_viewers_read_members_do_not_and_only_managers_change(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    job = await create_job(client, admin, name="watched")
    viewer = await add_user(client, admin, "viewer@example.com", roles=["Viewer"])
    member = await add_user(client, admin, "member@example.com", roles=["Member"])
    assert (await client.get(f"/api/cron/{job['id']}", headers=viewer.headers)).status_code == 200
    history = await client.get(f"/api/cron/{job['id']}/history", headers=viewer.headers)
    assert history.status_code == 200
    assert_error(await client.get("/api/cron", headers=member.headers), 403, "not_authorized")
    refused = await client.post(f"/api/cron/{job['id']}/pause", headers=viewer.headers)
    assert_error(refused, 403, "not_authorized")
    assert (await get_job(client, admin, job["id"]))["status"] == "Active"
