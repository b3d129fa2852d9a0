"""Shutdown of a real `sophon serve` process: SIGTERM answers pending task long-polls at once
(with the task as it is) instead of letting them hold the stop for up to 30 s."""

from __future__ import annotations

import http.client
import json
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import GatewayProcess
from tests.e2e.slow_model import MODEL, HoldingServer
from tests.identity_helpers import PASSWORD

pytestmark = pytest.mark.slow

STOP_WITHIN = 2.0
FAST = {
    "SOPHON_RATE_LIMITS_ENABLED": "false",
    "SOPHON_HEARTBEAT_ENABLED": "false",
    "SOPHON_QUEUE_POLL_SECONDS": "0.2",
    "SOPHON_ARGON2_MEMORY_KIB": "64",
    "SOPHON_ARGON2_TIME_COST": "1",
    "SOPHON_ARGON2_PARALLELISM": "1",
}


def _admin_headers(gateway: GatewayProcess, data: Path) -> dict[str, str]:
    made = httpx.post(
        f"{gateway.url}/api/auth/setup",
        json={
            "setupToken": (data / "setup-token").read_text().strip(),
            "email": "admin@example.com",
            "password": PASSWORD,
            "displayName": "The Admin",
        },
    )
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['accessToken']}"}


def test_sigterm_answers_a_pending_long_poll_at_once_and_exits_within_2s(
    tmp_path: Path, database_url: str
) -> None:
    data = tmp_path / "home"
    with HoldingServer() as model:
        gateway = GatewayProcess(data, database_url, **FAST)
        gateway.start()
        try:
            headers = _admin_headers(gateway, data)
            provider = httpx.post(
                f"{gateway.url}/api/models/providers",
                headers=headers,
                json={
                    "name": "slow",
                    "type": "openai",
                    "baseUrl": f"{model.url}/v1",
                    "apiKey": "sk-test-slow-model-0123456789",
                    "defaultModel": MODEL,
                    "models": [{"id": MODEL}],
                },
            )
            assert provider.status_code == 201, provider.text
            sent = httpx.post(f"{gateway.url}/api/chat", headers=headers, json={"content": "hi"})
            assert sent.status_code == 202, sent.text
            task_id = sent.json()["taskId"]
            model.wait_for(1)  # the turn runs, held in its model call

            poll = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=60)
            poll.request("GET", "/api/health")  # the connection is accepted and served first
            assert poll.getresponse().read()
            poll.request("GET", f"/api/tasks/{task_id}?wait=30", headers=headers)
            asked = time.monotonic()
            assert gateway.proc is not None
            gateway.proc.send_signal(signal.SIGTERM)
            answer = poll.getresponse()
            answered = time.monotonic() - asked
            body = json.loads(answer.read())
            exit_code = gateway.proc.wait(timeout=30)
            stopped = time.monotonic() - asked
        finally:
            gateway.kill()
            model.release()

    assert answer.status == 200, body
    assert (body["id"], body["status"]) == (task_id, "Running")
    assert answered < STOP_WITHIN, answered
    assert exit_code == 0, gateway.stderr()
    assert stopped < STOP_WITHIN, f"stopped after {stopped:.2f}s"
    assert "gateway stopped" in gateway.stderr()
