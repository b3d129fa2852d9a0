"""At-least-once delivery across a crash: a Gateway SIGKILLed while its deliveries are in flight
(the receiver holds them unanswered) leaves every one to the next process, which sends them all."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import QUICK, SQLITE_ONLY, GatewayProcess, first_admin, wait_until
from tests.identity_helpers import PASSWORD
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.slow

AGENTS = 12
FAST = {
    **QUICK,
    "SOPHON_WEBHOOK_CONCURRENCY": "4",
    "SOPHON_WEBHOOK_RETRY_SCHEDULE": "[0.2, 0.2, 0.2]",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.hold.clear()
    server.stop()


@SQLITE_ONLY
def test_deliveries_in_flight_at_a_kill_are_sent_by_the_next_process(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    data = tmp_path / "data"
    first = GatewayProcess(data, database_url, **FAST)
    second = GatewayProcess(data, database_url, **FAST)
    try:
        first.start(timeout=90)
        headers = first_admin(first, data, PASSWORD)
        hook = httpx.post(
            f"{first.url}/api/webhooks",
            headers=headers,
            json={"name": "crash", "url": f"{receiver.url}/hook", "eventTypes": ["agent.created"]},
        )
        assert hook.status_code == 201, hook.text
        webhook_id = hook.json()["id"]
        receiver.hold.set()
        for number in range(AGENTS):
            created = httpx.post(
                f"{first.url}/api/agents", headers=headers, json={"name": f"agent-{number}"}
            )
            assert created.status_code == 201, created.text
        wait_until(lambda: len(receiver.of("/hook")) >= 1)  # deliveries are mid-flight
        first.stop(signal.SIGKILL)
        receiver.hold.clear()

        second.start(timeout=90)
        listed = httpx.get(
            f"{second.url}/api/webhooks/{webhook_id}/deliveries?limit=200", headers=headers
        ).json()["items"]
        assert len(listed) == AGENTS

        def all_succeeded() -> bool:
            items = httpx.get(
                f"{second.url}/api/webhooks/{webhook_id}/deliveries?limit=200", headers=headers
            ).json()["items"]
            return all(d["status"] == "Succeeded" for d in items)

        wait_until(all_succeeded)
        sent = {hit.headers["webhook-id"] for hit in receiver.of("/hook")}
        assert sent == {d["id"] for d in listed}
    finally:
        for gateway in (first, second):
            gateway.kill()
