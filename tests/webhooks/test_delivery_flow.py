"""Deliveries and their causes: written in the cause's transaction (none for a rolled-back one),
a completed chat turn delivered as `task.completed`, DNS rebinding refused at send time, an
endpoint failing too long disabled, the per-slug bound, and the catalog."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from standardwebhooks import Webhook as StandardWebhook

from sophon.gateway import Gateway
from sophon.platform.events import Audience, Event, after_commit
from sophon.platform.tenancy import ALL_TENANTS
from sophon.webhooks.dispatcher import delivery_client
from sophon.webhooks.models import Delivery, Webhook
from tests.chat.chat_helpers import send, wait_task
from tests.identity_helpers import Caller, add_user
from tests.llm.fakes import FakeServer, JsonReply, openai_completion
from tests.webhooks.helpers import add_outbound, deliveries, settled
from tests.webhooks.receiver import Receiver


class Boom(Exception):
    pass


async def delivery_rows(gateway: Gateway) -> int:
    async with gateway.db.transaction(readonly=True) as db:
        stmt = select(func.count()).select_from(Delivery).execution_options(**ALL_TENANTS)
        return int(await db.scalar(stmt) or 0)


async def test_a_delivery_commits_with_its_cause_and_not_without(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway, receiver: Receiver
) -> None:
    await add_outbound(client, admin, f"{receiver.url}/hook", ["task.completed"])
    async with gateway.db.transaction(readonly=True) as db:
        row = await db.scalar(select(Webhook).execution_options(**ALL_TENANTS))
        assert row is not None
        tenant = row.tenant_id
    payload = {"taskId": "task_x", "sessionId": None, "agentId": None, "userId": None}

    async def cause_then_fail() -> None:
        async with gateway.db.transaction(tenant_id=tenant) as db:
            after_commit(db, Event("TaskCompleted", payload, tenant, Audience()))
            raise Boom

    with pytest.raises(Boom):
        await cause_then_fail()
    assert await delivery_rows(gateway) == 0
    async with gateway.db.transaction(tenant_id=tenant) as db, db.begin_nested() as savepoint:
        after_commit(db, Event("TaskCompleted", payload, tenant, Audience()))
        await savepoint.rollback()
    assert await delivery_rows(gateway) == 0
    secret_payload = {**payload, "apiKey": "sk-should-never-leave"}
    async with gateway.db.transaction(tenant_id=tenant) as db:
        after_commit(db, Event("TaskCompleted", secret_payload, tenant, Audience()))
    assert await delivery_rows(gateway) == 1
    (hit,) = await receiver.wait("/hook")
    assert hit.json()["type"] == "task.completed"
    assert hit.json()["tenant"] == tenant
    assert "apiKey" not in hit.json()["data"]


async def test_a_completed_turn_reaches_the_receiver_signed(
    client: httpx.AsyncClient,
    admin: Caller,
    agent_id: str,
    model: FakeServer,
    receiver: Receiver,
) -> None:
    created = await add_outbound(client, admin, f"{receiver.url}/hook", ["task.*"])
    model.script("POST", "/v1/chat/completions", JsonReply(openai_completion("Hello!")))
    accepted = await send(client, admin, "Hi", isStreaming=False)
    await wait_task(client, admin, accepted["taskId"])
    (hit,) = await receiver.wait("/hook")
    event = StandardWebhook(created["secret"]).verify(hit.body, hit.headers)
    assert event["type"] == "task.completed"
    assert event["data"]["taskId"] == accepted["taskId"]
    assert event["data"]["sessionId"] == accepted["sessionId"]
    (listed,) = await deliveries(client, admin, created["id"], eventType="task.completed")
    assert listed["id"] == hit.headers["webhook-id"]
    done = await settled(client, admin, created["id"], listed["id"])
    assert done["status"] == "Succeeded"


async def test_dns_rebinding_to_a_private_address_is_refused_at_send_time(
    client: httpx.AsyncClient, admin: Caller, app: FastAPI, receiver: Receiver
) -> None:
    answers = iter([["127.0.0.1"], ["10.20.30.40"], ["10.20.30.40"]] + [["10.20.30.40"]] * 10)

    async def rebinding(host: str) -> list[str]:
        assert host == "hooks.example"
        return next(answers)

    dispatcher = app.state.webhooks
    await dispatcher.client.aclose()
    dispatcher.client = delivery_client(
        app.state.gateway.settings, resolver=rebinding, allow=("127.0.0.1",)
    )
    created = await add_outbound(client, admin, f"http://hooks.example:{receiver.port}/hook")
    # a kept-alive connection stays pinned to the address vetted when it opened: close it so
    # the next delivery resolves the name again, now to a private address
    receiver.answer(200, headers={"connection": "close"})
    first = (await client.post(f"/api/webhooks/{created['id']}/test", headers=admin.headers)).json()
    assert (await settled(client, admin, created["id"], first["id"]))["status"] == "Succeeded"
    second = (
        await client.post(f"/api/webhooks/{created['id']}/test", headers=admin.headers)
    ).json()
    done = await settled(client, admin, created["id"], second["id"])
    assert done["status"] == "Failed"
    assert all("refused" in a["error"] for a in done["attemptLog"])
    assert all(a["statusCode"] is None for a in done["attemptLog"])
    assert len(receiver.of("/hook")) == 1


async def test_event_type_catalog_lists_schemas(client: httpx.AsyncClient, admin: Caller) -> None:
    response = await client.get("/api/webhooks/event-types?limit=200", headers=admin.headers)
    assert response.status_code == 200, response.text
    names = {t["name"]: t for t in response.json()["items"]}
    for name in (
        "task.completed",
        "task.failed",
        "task.cancelled",
        "approval.requested",
        "approval.resolved",
        "cron.fired",
        "cron.failed",
        "memory.forgotten",
        "agent.created",
        "agent.updated",
        "agent.deleted",
        "user.created",
        "webhook.test",
    ):
        schema = names[name]["schema"]
        assert schema["properties"]["type"] == {"const": name}
        assert schema["properties"]["data"]["type"] == "object"


async def test_user_created_is_delivered(
    client: httpx.AsyncClient, admin: Caller, receiver: Receiver
) -> None:
    await add_outbound(client, admin, f"{receiver.url}/hook", ["user.created"])
    user = await add_user(client, admin, "new@example.com", ["Member"])
    (hit,) = await receiver.wait("/hook")
    assert hit.json()["data"] == {
        "userId": user.id,
        "email": "new@example.com",
        "displayName": "new",
    }
