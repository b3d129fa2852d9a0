"""An outbound endpoint that keeps failing past the allowed time is disabled and its owner is
told; enabling it again clears its health."""

from __future__ import annotations

import httpx
import pytest

from sophon.settings import Settings
from tests.chat.chat_helpers import EventLog
from tests.identity_helpers import Caller
from tests.webhooks.helpers import add_outbound, deliveries, get_webhook
from tests.webhooks.receiver import Receiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """An endpoint counts as failing for too long after its second failure."""
    return settings.model_copy(update={"webhook_disable_after_days": 1e-9})


async def test_an_endpoint_failing_too_long_is_disabled_and_its_owner_told(
    client: httpx.AsyncClient, admin: Caller, receiver: Receiver, events: EventLog
) -> None:
    created = await add_outbound(client, admin, f"{receiver.url}/hook", ["agent.*"])
    receiver.answer(500, 500, 500, 500)
    await client.post("/api/agents", headers=admin.headers, json={"name": "Flaky"})
    note = await events.wait_for(lambda e: e.name == "Notification")
    assert note.payload["kind"] == "webhook.disabled"
    assert note.payload["webhookId"] == created["id"]
    shown = await get_webhook(client, admin, created["id"])
    assert shown["status"] == "Disabled"
    assert shown["failureCount"] == 2
    (only,) = await deliveries(client, admin, created["id"])
    assert only["status"] == "Failed"
    assert only["attempts"] == 2
    revived = await client.patch(
        f"/api/webhooks/{created['id']}", headers=admin.headers, json={"enabled": True}
    )
    assert revived.json()["status"] == "Active"
    assert revived.json()["failureCount"] == 0
