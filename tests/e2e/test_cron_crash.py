"""A Gateway SIGKILLed right after a cron job fired (its webhook still in flight, held by the
receiver) never fires that time again: the next process finishes the run it inherited and the
job keeps exactly one history record for that time. A run whose worker dies on every queue
attempt does not stay Running: once the queue gives up on it, it ends Failed with the reason."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import QUICK, GatewayProcess, first_admin, wait_until
from tests.identity_helpers import PASSWORD
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.slow

FAST = {**QUICK, "SOPHON_CRON_MAX_SLEEP_SECONDS": "1"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.hold.clear()
    server.stop()


def _one_shot_webhook(url: str, headers: dict[str, str], receiver: Receiver) -> dict[str, Any]:
    due = (datetime.now(UTC) + timedelta(seconds=6)).replace(microsecond=0)
    job: dict[str, Any] = httpx.post(
        f"{url}/api/cron",
        headers=headers,
        json={
            "name": "once",
            "scheduleType": "one-shot",
            "expression": due.isoformat().replace("+00:00", "Z"),
            "action": {"type": "webhook", "url": f"{receiver.url}/hook"},
        },
    ).json()
    approved = httpx.post(f"{url}/api/approvals/{job['approvalId']}/approve", headers=headers)
    assert approved.status_code == 200, approved.text
    return job


def test_a_run_whose_worker_dies_on_every_attempt_ends_failed(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    data = tmp_path / "data"
    gateways = [GatewayProcess(data, database_url, **FAST) for _ in range(3)]
    first, second, third = gateways
    try:
        first.start(timeout=90)
        headers = first_admin(first, data, PASSWORD)
        job = _one_shot_webhook(first.url, headers, receiver)
        receiver.hold.set()
        wait_until(lambda: len(receiver.of("/hook")) >= 1)  # attempt 1 in flight
        first.stop(signal.SIGKILL)
        second.start(timeout=90)
        wait_until(lambda: len(receiver.of("/hook")) >= 2)  # attempt 2 (the last) in flight
        second.stop(signal.SIGKILL)
        receiver.hold.clear()

        third.start(timeout=90)
        history = f"{third.url}/api/cron/{job['id']}/history"

        def settled() -> bool:
            runs = httpx.get(history, headers=headers).json()["items"]
            return bool(runs) and all(r["status"] != "Running" for r in runs)

        wait_until(settled)
        runs = httpx.get(history, headers=headers).json()["items"]
        assert [r["status"] for r in runs] == ["Failed"], runs
        assert "gave up" in runs[0]["error"], runs
        assert len(receiver.of("/hook")) == 2  # no third attempt
    finally:
        for gateway in gateways:
            gateway.kill()


def test_a_fire_interrupted_by_a_kill_is_never_fired_again(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    data = tmp_path / "data"
    first = GatewayProcess(data, database_url, **FAST)
    second = GatewayProcess(data, database_url, **FAST)
    try:
        first.start(timeout=90)
        headers = first_admin(first, data, PASSWORD)
        due = (datetime.now(UTC) + timedelta(seconds=6)).replace(microsecond=0)
        stamp = due.isoformat().replace("+00:00", "Z")
        job = httpx.post(
            f"{first.url}/api/cron",
            headers=headers,
            json={
                "name": "once",
                "scheduleType": "one-shot",
                "expression": stamp,
                "action": {"type": "webhook", "url": f"{receiver.url}/hook"},
            },
        ).json()
        approved = httpx.post(
            f"{first.url}/api/approvals/{job['approvalId']}/approve", headers=headers
        )
        assert approved.status_code == 200, approved.text
        receiver.hold.set()
        wait_until(lambda: len(receiver.of("/hook")) >= 1)  # fired, its request in flight
        first.stop(signal.SIGKILL)
        receiver.hold.clear()

        second.start(timeout=90)
        history = f"{second.url}/api/cron/{job['id']}/history"

        def settled() -> bool:
            runs = httpx.get(history, headers=headers).json()["items"]
            return bool(runs) and all(r["status"] != "Running" for r in runs)

        wait_until(settled)
        runs = httpx.get(history, headers=headers).json()["items"]
        assert [(r["scheduledFor"], r["status"]) for r in runs] == [
            (due.isoformat(timespec="milliseconds").replace("+00:00", "Z"), "Succeeded")
        ], runs
        after = httpx.get(f"{second.url}/api/cron/{job['id']}", headers=headers).json()
        assert after["status"] == "Completed"
        assert after["nextRunAt"] is None
        # the inherited run was retried (at least once); no second fire was recorded
        assert len(receiver.of("/hook")) >= 2
    finally:
        for gateway in (first, second):
            gateway.kill()
