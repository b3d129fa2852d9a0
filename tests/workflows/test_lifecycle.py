"""Versions, restore, clone, export and import, pause and resume, delete, the direct webhook,
event triggers, and who may read or change workflows (cron and inbound webhooks starting runs:
tests/flows/test_workflow_launch.py)."""

from __future__ import annotations

import httpx

from tests.chat.chat_helpers import EventLog
from tests.conftest import FakeClock
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user
from tests.workflows.wf_helpers import by_node, chain, create, transform, trigger, wait_run


async def test_every_change_is_a_version_and_an_old_one_can_be_restored(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    workflow = await create(client, admin, chain(transform("a", 1)))
    path = f"/api/workflows/{workflow['id']}"
    changed = await client.patch(
        path, headers=admin.headers, json={"nodes": [transform("a", 2), transform("b", 3)]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    bad = await client.patch(
        path, headers=admin.headers, json={"edges": [{"from": "a", "to": "x"}]}
    )
    assert_error(bad, 422, "validation_failed")
    history = (await client.get(f"{path}/history", headers=admin.headers)).json()["items"]
    assert [v["number"] for v in history] == [2, 1]
    assert history[0]["summary"] == "changed nodes; added b"
    assert history[0]["actorId"] == admin.id
    restored = await client.post(f"{path}/versions/1/restore", headers=admin.headers)
    assert restored.status_code == 200, restored.text
    assert restored.json()["version"] == 3
    assert [n["id"] for n in restored.json()["nodes"]] == ["a"]
    missing = await client.post(f"{path}/versions/9/restore", headers=admin.headers)
    assert_error(missing, 404, "not_found")
    started = await trigger(client, admin, workflow["id"])
    run = await wait_run(client, admin, workflow["id"], started["runId"])
    assert run["version"] == 3


async def test_clone_export_and_import(client: httpx.AsyncClient, admin: Caller) -> None:
    workflow = await create(client, admin, chain(transform("a", 1), vars={"k": 1}))
    clone = await client.post(
        f"/api/workflows/{workflow['id']}/clone", headers=admin.headers, json={"name": "copy"}
    )
    assert clone.status_code == 201
    assert clone.json()["name"] == "copy"
    assert clone.json()["id"] != workflow["id"]
    exported = (
        await client.get(f"/api/workflows/{workflow['id']}/export", headers=admin.headers)
    ).json()
    assert exported["id"] == workflow["id"]
    assert exported["version"] == 1
    assert exported["vars"] == {"k": 1}
    imported = await client.post("/api/workflows/import", headers=admin.headers, json=exported)
    assert imported.status_code == 201, imported.text
    assert imported.json()["nodes"] == exported["nodes"]
    listed = (await client.get("/api/workflows", headers=admin.headers)).json()["items"]
    assert len(listed) == 3


async def test_a_paused_workflow_ignores_triggers_and_its_runs_wait(
    client: httpx.AsyncClient, admin: Caller, clock: FakeClock
) -> None:
    workflow = await create(
        client,
        admin,
        chain(
            {"id": "w", "type": "logic.wait", "config": {"seconds": 60}},
            transform("after", "done"),
        ),
    )
    started = await trigger(client, admin, workflow["id"])
    await wait_run(client, admin, workflow["id"], started["runId"], ("Waiting",))
    paused = await client.post(f"/api/workflows/{workflow['id']}/pause", headers=admin.headers)
    assert paused.json()["paused"] is True
    refused = await client.post(f"/api/workflows/{workflow['id']}/trigger", headers=admin.headers)
    assert_error(refused, 409, "conflict")
    clock.advance(seconds=61)
    run = await wait_run(client, admin, workflow["id"], started["runId"], ("Paused",))
    assert "after" not in by_node(run)
    await client.post(f"/api/workflows/{workflow['id']}/resume", headers=admin.headers)
    run = await wait_run(client, admin, workflow["id"], started["runId"])
    assert run["status"] == "Completed"


async def test_the_direct_webhook_passes_its_body_as_trigger_body(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    definition = {
        **chain(transform("a", "{{ $trigger.body.who }}")),
        "trigger": {"type": "webhook"},
    }
    workflow = await create(client, admin, definition)
    path = f"/api/workflows/{workflow['id']}/webhook"
    assert_error(await client.post(path, headers=admin.headers, json={}), 409, "conflict")
    await client.patch(
        f"/api/workflows/{workflow['id']}", headers=admin.headers, json={"enabled": True}
    )
    response = await client.post(path, headers=admin.headers, json={"who": "hook"})
    assert response.status_code == 202, response.text
    run = await wait_run(client, admin, workflow["id"], response.json()["runId"])
    assert by_node(run)["a"]["output"] == "hook"
    assert run["trigger"] == {"type": "webhook", "body": {"who": "hook"}}


async def test_an_event_trigger_starts_a_run_once(
    client: httpx.AsyncClient, admin: Caller, events: EventLog
) -> None:
    listener = {
        **chain(transform("seen", "{{ $trigger.body.workflowId }}"), enabled=True),
        "trigger": {"type": "event", "event": "workflow.run.completed"},
    }
    watcher = await create(client, admin, listener)
    source = await create(client, admin, chain(transform("a", 1)))
    started = await trigger(client, admin, source["id"])
    await wait_run(client, admin, source["id"], started["runId"])
    fired = await events.wait_for(
        lambda e: e.name == "WorkflowRunCompleted" and e.payload["workflowId"] == watcher["id"]
    )
    run = await wait_run(client, admin, watcher["id"], fired.payload["runId"])
    assert by_node(run)["seen"]["output"] == source["id"]
    runs = (await client.get(f"/api/workflows/{watcher['id']}/runs", headers=admin.headers)).json()
    assert len(runs["items"]) == 1  # its own completion did not trigger it again


async def test_viewers_read_and_only_managers_change(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    workflow = await create(client, admin, chain(transform("a", 1)))
    viewer = await add_user(client, admin, "viewer@example.com", ["Viewer"])
    member = await add_user(client, admin, "member@example.com", ["Member"])
    ok = await client.get(f"/api/workflows/{workflow['id']}", headers=viewer.headers)
    assert ok.status_code == 200
    refused = await client.post(f"/api/workflows/{workflow['id']}/trigger", headers=viewer.headers)
    assert_error(refused, 403, "not_authorized")
    assert_error(await client.get("/api/workflows", headers=member.headers), 403, "not_authorized")
    deleted = await client.delete(f"/api/workflows/{workflow['id']}", headers=viewer.headers)
    assert_error(deleted, 403, "not_authorized")
    deleted = await client.delete(f"/api/workflows/{workflow['id']}", headers=admin.headers)
    assert deleted.status_code == 204
    gone = await client.get(f"/api/workflows/{workflow['id']}", headers=admin.headers)
    assert_error(gone, 404, "not_found")
