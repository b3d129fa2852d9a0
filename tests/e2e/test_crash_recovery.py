"""Crash recovery with real processes: turns in flight when a Gateway is SIGKILLed resume on the
next start from their last persisted step, a running tool call gets an "interrupted" result, a
call waiting for its approval waits on that same approval again (or uses the decision made
while no Gateway ran it), and a turn that crashed on its last attempt ends Failed "gateway
restarted" with its approval closed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import SQLITE_ONLY, GatewayProcess
from tests.e2e.slow_model import MODEL, HoldingServer, answer_to
from tests.e2e.standby import StandbyGateway
from tests.identity_helpers import PASSWORD

pytestmark = pytest.mark.slow

FINISHED = ("Completed", "Failed", "Cancelled")
PRINT_CODE = '/tool code.execute {"code": "print(6 * 7)"}'
RESUMED = "resumed after a Gateway restart"
# Short leases, so a killed process's turns are taken over within seconds: it is the lease the
# crashed process left behind that must run out, so every process of a test uses one.
FAST = {
    "SOPHON_TASK_LEASE_SECONDS": "3",
    "SOPHON_QUEUE_POLL_SECONDS": "0.2",
    "SOPHON_SCHEDULER_POLL_SECONDS": "0.5",
    "SOPHON_WORKER_CONCURRENCY": "20",
    "SOPHON_HEARTBEAT_ENABLED": "false",
    "SOPHON_RATE_LIMITS_ENABLED": "false",
    "SOPHON_ARGON2_MEMORY_KIB": "64",
    "SOPHON_ARGON2_TIME_COST": "1",
    "SOPHON_ARGON2_PARALLELISM": "1",
}


class Gateways:
    """Gateway processes on one data directory and database. `prepare` spawns one that waits
    (imports done) until its `start()`, so a restart does not pay for Python's imports. Kills
    leftovers at the end and shows every process's stderr when the test failed."""

    def __init__(self, data: Path, database_url: str) -> None:
        self.data = data
        self.database_url = database_url
        self.spawned: list[StandbyGateway] = []

    def prepare(self, **env: str) -> StandbyGateway:
        gateway = StandbyGateway(self.data, self.database_url, **(FAST | env))
        self.spawned.append(gateway)
        return gateway

    def start(self, **env: str) -> StandbyGateway:
        gateway = self.prepare(**env)
        gateway.start()
        return gateway

    def close(self) -> None:
        for gateway in self.spawned:
            gateway.kill()
            print(f"--- gateway on port {gateway.port}:\n{gateway.stderr()}")


@pytest.fixture
def gateways(tmp_path: Path, database_url: str) -> Iterator[Gateways]:
    running = Gateways(tmp_path / "data", database_url)
    yield running
    running.close()


class Api:
    """The signed-in Admin talking to whichever Gateway process is up."""

    def __init__(self, gateway: GatewayProcess, data: Path) -> None:
        self.url = gateway.url
        token = (data / "setup-token").read_text().strip()
        response = httpx.post(
            f"{self.url}/api/auth/setup",
            json={
                "setupToken": token,
                "email": "admin@example.com",
                "password": PASSWORD,
                "displayName": "The Admin",
            },
        )
        assert response.status_code == 201, response.text
        self.headers = {"Authorization": f"Bearer {response.json()['accessToken']}"}

    def use(self, gateway: GatewayProcess) -> None:
        self.url = gateway.url

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method, f"{self.url}{path}", headers=self.headers, timeout=40, **kwargs
        )

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code == status, response.text
        return response.json()

    def add_slow_model(self, model: HoldingServer) -> None:
        self.ok(
            "POST",
            "/api/models/providers",
            201,
            json={
                "name": "slow",
                "type": "openai",
                "baseUrl": f"{model.url}/v1",
                "apiKey": "sk-test-slow-model-0123456789",
                "defaultModel": MODEL,
                "models": [{"id": MODEL}],
            },
        )

    def send(self, content: str) -> dict[str, str]:
        accepted: dict[str, str] = self.ok("POST", "/api/chat", 202, json={"content": content})
        return accepted

    def task(self, task_id: str, wait: float = 0) -> dict[str, Any]:
        task: dict[str, Any] = self.ok("GET", f"/api/tasks/{task_id}", params={"wait": wait})
        return task

    def finished(self, task_id: str) -> dict[str, Any]:
        task = self.task(task_id, wait=30)
        assert task["status"] in FINISHED, task
        return task

    def messages(self, session_id: str) -> list[dict[str, Any]]:
        page = self.ok("GET", f"/api/sessions/{session_id}/messages", params={"limit": 200})
        items: list[dict[str, Any]] = page["items"]
        return items

    def approvals(self) -> list[dict[str, Any]]:
        pending = self.ok("GET", "/api/approvals")["items"]
        decided = self.ok("GET", "/api/approvals/history")["items"]
        return [*pending, *decided]

    def pending_approval(self, task_id: str) -> dict[str, Any]:
        """The task's approval once it waits for one (the REST API has no wait for that)."""
        return self._until(
            lambda: next((a for a in self.approvals() if a["taskId"] == task_id), None)
        )

    def resumed(self, task_id: str) -> None:
        """Returns once a restarted Gateway has resumed the task."""

        def probe() -> bool | None:
            log = self.task(task_id)["log"]
            return True if any(e["message"] == RESUMED for e in log) else None

        self._until(probe)

    @staticmethod
    def _until(probe: Any, within: float = 30.0) -> Any:
        deadline = time.monotonic() + within
        while (found := probe()) is None:
            assert time.monotonic() < deadline, f"not within {within}s"
            time.sleep(0.05)  # polling state the REST API can't wait on
        return found

    def allow_code(self) -> None:
        agent = next(a for a in self.ok("GET", "/api/agents")["items"] if a["isDefault"])
        self.ok("PUT", f"/api/agents/{agent['id']}/tools", json={"tools": ["code.*"]})


def test_a_turn_in_flight_resumes_after_sigkill(gateways: Gateways) -> None:
    question = "What is the capital of France?"
    with HoldingServer() as model:
        first = gateways.start()
        restarted = gateways.prepare()
        api = Api(first, gateways.data)
        api.add_slow_model(model)
        accepted = api.send(question)
        model.wait_for(1)
        assert api.task(accepted["taskId"])["status"] == "Running"
        first.kill()

        restarted.start()
        api.use(restarted)
        model.wait_for(2)  # the resumed turn asks the model again
        assert model.received()[1].last_user_message() == question
        model.release()
        task = api.finished(accepted["taskId"])

    assert task["status"] == "Completed", task
    assert any(entry["message"] == "resumed after a Gateway restart" for entry in task["log"])
    history = api.messages(accepted["sessionId"])
    assert [(m["role"], m["content"]) for m in history] == [
        ("user", question),
        ("assistant", answer_to(question)),
    ]
    assert history[0]["id"] == accepted["messageId"]
    assert history[1]["taskId"] == accepted["taskId"]


def test_twenty_turns_in_flight_all_finish_after_sigkill(gateways: Gateways) -> None:
    questions = [f"Question number {n}?" for n in range(20)]
    with HoldingServer() as model:
        first = gateways.start()
        restarted = gateways.prepare()
        api = Api(first, gateways.data)
        api.add_slow_model(model)
        sent = [api.send(question) for question in questions]
        assert len({s["sessionId"] for s in sent}) == 20
        model.wait_for(20)
        first.kill()

        restarted.start()
        api.use(restarted)
        model.release()
        tasks = [api.finished(s["taskId"]) for s in sent]

    outcomes = [(t["status"], t["errorCode"], t["error"]) for t in tasks]
    assert outcomes == [("Completed", None, None)] * 20, outcomes
    assert api.ok("GET", "/api/tasks/active")["items"] == []
    for question, accepted in zip(questions, sent, strict=True):
        history = api.messages(accepted["sessionId"])
        assert [(m["id"], m["role"], m["content"]) for m in history] == [
            (accepted["messageId"], "user", question),
            (history[-1]["id"], "assistant", answer_to(question)),
        ]


@SQLITE_ONLY
def test_a_tool_call_running_at_the_crash_is_answered_interrupted(gateways: Gateways) -> None:
    with HoldingServer() as upstream:
        env = {"SOPHON_OUTBOUND_ALLOW": f"127.0.0.1:{upstream.port}"}
        first = gateways.start(**env)
        restarted = gateways.prepare(**env)
        api = Api(first, gateways.data)
        agents = api.ok("GET", "/api/agents")["items"]
        agent = next(a for a in agents if a["isDefault"])
        api.ok("PUT", f"/api/agents/{agent['id']}/tools", json={"tools": ["web.*"]})
        arguments = json.dumps({"url": f"{upstream.url}/hang"})
        accepted = api.send(f"/tool web.fetch {arguments}")
        upstream.wait_for(1, "/hang")
        first.kill()

        restarted.start()
        api.use(restarted)
        task = api.finished(accepted["taskId"])
        assert len(upstream.received("/hang")) == 1  # never re-run blindly

    assert task["status"] == "Completed", task
    assert [(c["name"], c["status"]) for c in task["toolCalls"]] == [("web.fetch", "interrupted")]
    history = api.messages(accepted["sessionId"])
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant"]
    assert history[0]["id"] == accepted["messageId"]
    assert history[1]["toolCalls"][0]["status"] == "interrupted"
    tool = history[2]
    assert tool["toolCallId"] == history[1]["toolCalls"][0]["id"]
    assert tool["content"].startswith("Interrupted: the Gateway restarted")
    answer = history[3]["content"]
    assert answer.startswith("(offline echo model) Tool results: web.fetch (error): ")
    assert "Interrupted: the Gateway restarted" in answer


@SQLITE_ONLY
def test_a_turn_that_crashes_twice_fails_gateway_restarted(gateways: Gateways) -> None:
    question = "Will this survive two crashes?"
    with HoldingServer() as model:
        first = gateways.start()
        second, third = gateways.prepare(), gateways.prepare()
        api = Api(first, gateways.data)
        api.add_slow_model(model)
        accepted = api.send(question)
        model.wait_for(1)
        first.kill()
        second.start()
        model.wait_for(2)  # resumed once
        second.kill()

        third.start()
        api.use(third)
        task = api.finished(accepted["taskId"])
        model.release()

    assert task["status"] == "Failed", task
    assert (task["error"], task["errorCode"]) == ("gateway restarted", "gateway_restarted")
    assert len(model.received()) == 2
    history = api.messages(accepted["sessionId"])
    assert [(m["id"], m["role"], m["content"]) for m in history] == [
        (accepted["messageId"], "user", question)
    ]


@SQLITE_ONLY
def test_an_approval_pending_at_a_crash_is_waited_on_again(gateways: Gateways) -> None:
    first = gateways.start()
    restarted = gateways.prepare()
    api = Api(first, gateways.data)
    api.allow_code()
    accepted = api.send(PRINT_CODE)
    approval = api.pending_approval(accepted["taskId"])
    first.kill()

    restarted.start()
    api.use(restarted)
    api.resumed(accepted["taskId"])
    assert api.task(accepted["taskId"])["status"] == "Running"
    assert [(a["id"], a["status"]) for a in api.approvals()] == [(approval["id"], "Pending")]
    api.ok("POST", f"/api/approvals/{approval['id']}/approve")
    task = api.finished(accepted["taskId"])

    assert task["status"] == "Completed", task
    assert [(c["status"], c["approvalId"]) for c in task["toolCalls"]] == [
        ("completed", approval["id"])
    ]
    history = api.messages(accepted["sessionId"])
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant"]
    assert "stdout:\n42\n" in history[2]["content"]
    assert len(api.approvals()) == 1


@SQLITE_ONLY
def test_an_approval_decided_while_no_gateway_ran_the_turn_is_used(gateways: Gateways) -> None:
    first = gateways.start()
    api_only = gateways.prepare(SOPHON_RUN_WORKERS="false")
    restarted = gateways.prepare()
    api = Api(first, gateways.data)
    api.allow_code()
    accepted = api.send(PRINT_CODE)
    approval = api.pending_approval(accepted["taskId"])
    first.kill()

    api_only.start()  # serves the API, runs no turns
    api.use(api_only)
    rejected = api.ok(
        "POST", f"/api/approvals/{approval['id']}/reject", json={"reason": "not while down"}
    )
    assert rejected["status"] == "Rejected"
    api_only.kill()
    restarted.start()
    api.use(restarted)
    task = api.finished(accepted["taskId"])

    assert task["status"] == "Completed", task
    assert any(e["message"] == RESUMED for e in task["log"])
    assert [(c["status"], c["approvalId"]) for c in task["toolCalls"]] == [
        ("rejected", approval["id"])
    ]
    history = api.messages(accepted["sessionId"])
    assert history[2]["content"] == "The user rejected this call: not while down"
    assert len(api.approvals()) == 1


@SQLITE_ONLY
def test_a_turn_that_crashes_twice_awaiting_approval_closes_it(gateways: Gateways) -> None:
    first = gateways.start()
    second, third = gateways.prepare(), gateways.prepare()
    api = Api(first, gateways.data)
    api.allow_code()
    accepted = api.send(PRINT_CODE)
    approval = api.pending_approval(accepted["taskId"])
    first.kill()
    second.start()
    api.use(second)
    api.resumed(accepted["taskId"])
    second.kill()

    third.start()
    api.use(third)
    task = api.finished(accepted["taskId"])
    assert (task["status"], task["errorCode"]) == ("Failed", "gateway_restarted"), task
    closed = api.ok("GET", f"/api/approvals/{approval['id']}")
    assert (closed["status"], closed["reason"]) == (
        "Expired",
        "The task ended before this was decided.",
    )
    late = api.call("POST", f"/api/approvals/{approval['id']}/approve")
    assert (late.status_code, late.json()["error"]["code"]) == (409, "conflict")
    assert api.ok("GET", "/api/approvals")["items"] == []
