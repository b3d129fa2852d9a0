"""The workflow listener is handed only the events that may concern it (asked as each event is
published): a turn's events reach it only when an event trigger of the tenant names them."""

from __future__ import annotations

import httpx

from sophon.gateway import Gateway
from sophon.platform.events import Audience, Event
from sophon.workflows.triggers import handle, relevant
from tests.identity_helpers import Caller
from tests.workflows.wf_helpers import chain, create, transform


async def test_only_events_a_trigger_names_or_that_may_wake_a_run_reach_the_listener(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway
) -> None:
    watcher = {
        **chain(transform("seen", 1), enabled=True),
        "trigger": {"type": "event", "event": "workflow.run.completed"},
    }
    await create(client, admin, watcher)
    tenant = (await client.get("/api/auth/me", headers=admin.headers)).json()["tenant"]["id"]

    def event(name: str, tenant_id: str | None = tenant) -> Event:
        return Event(name, {"taskId": "tsk_x"}, tenant_id, Audience(tenant_wide=True))

    await handle(gateway.db, event("TaskStarted"))  # the tenant's triggers are read (and kept)
    assert not relevant(gateway.db, event("TaskCompleted"))
    assert not relevant(gateway.db, event("StreamChunk"))
    assert relevant(gateway.db, event("WorkflowRunCompleted"))  # the trigger names it
    assert relevant(gateway.db, event("TaskFailed"))  # may end a run
    assert relevant(gateway.db, event("ApprovalResolved"))  # may wake a run
    assert not relevant(gateway.db, event("WorkflowRunCompleted", tenant_id=None))
