"""A run never has more rights than its user has now: the user's standing is read again before
each node that acts, so a permission removed or an account suspended while the run waits fails
the next such node (and the run), not only the next run."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import FakeClock
from tests.identity_helpers import Caller, add_user
from tests.workflows.wf_helpers import by_node, chain, create, transform, trigger, wait_run

WAITING = ("Waiting",)


def waits_then_acts() -> dict[str, Any]:
    return chain(
        transform("before", 1),
        {"id": "w", "type": "logic.wait", "config": {"seconds": 600}},
        transform("still", 2),
        {"id": "now", "type": "action.skill", "config": {"skill": "datetime.now"}},
    )


@pytest.mark.parametrize(
    "change", [{"roles": ["Member"]}, {"status": "Suspended"}], ids=["role", "suspend"]
)
async def test_a_right_lost_while_the_run_waits_fails_its_next_acting_node(
    client: httpx.AsyncClient, admin: Caller, clock: FakeClock, change: dict[str, Any]
) -> None:
    bob = await add_user(client, admin, "bob@example.com", ["Admin"])
    workflow = await create(client, bob, waits_then_acts())
    started = await trigger(client, bob, workflow["id"])
    await wait_run(client, admin, workflow["id"], started["runId"], WAITING)
    response = await client.patch(f"/api/admin/users/{bob.id}", headers=admin.headers, json=change)
    assert response.status_code == 200, response.text
    clock.advance(seconds=601)
    run = await wait_run(client, admin, workflow["id"], started["runId"])
    assert run["status"] == "Failed", run
    assert run["error"]["code"] == "not_authorized"
    assert run["error"]["nodeId"] == "now"
    nodes = by_node(run)
    assert nodes["still"]["status"] == "Completed"  # a transform uses no right
    assert nodes["now"]["status"] == "Failed"
    assert nodes["now"]["error"]["code"] == "not_authorized"
    assert nodes["now"]["output"] is None


async def test_a_user_who_keeps_the_right_runs_on(
    client: httpx.AsyncClient, admin: Caller, clock: FakeClock
) -> None:
    bob = await add_user(client, admin, "bob@example.com", ["Admin"])
    workflow = await create(client, bob, waits_then_acts())
    started = await trigger(client, bob, workflow["id"])
    await wait_run(client, admin, workflow["id"], started["runId"], WAITING)
    clock.advance(seconds=601)
    run = await wait_run(client, admin, workflow["id"], started["runId"])
    assert run["status"] == "Completed", run
    assert by_node(run)["now"]["status"] == "Completed"
