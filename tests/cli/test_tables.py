"""Tables as a person at a 100-column terminal sees them: every line fits, ids stay whole on
one line, and agents are named wherever a row refers to one."""

from __future__ import annotations

import json
import time

import pytest

from tests.cli.conftest import Cli, Gateway
from tests.cli.repl_helpers import run_on_a_terminal

pytestmark = pytest.mark.slow
RUN_CODE = '/tool code.execute {"code": "print(6 * 7)"}'


def _pending_approval(gateway: Gateway, task_id: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        calls = gateway.api("GET", f"/api/tasks/{task_id}").json().get("toolCalls") or []
        if any(c.get("approvalId") for c in calls):
            return str(next(c["approvalId"] for c in calls if c.get("approvalId")))
    raise AssertionError(f"task {task_id} never asked for an approval")


def _row(lines: list[str], key: str) -> str:
    rows = [line for line in lines if key in line]
    assert rows, f"{key} is not whole on any line:\n" + "\n".join(lines)
    return rows[0]


def test_tables_fit_100_columns_and_name_agents(signed_in: Cli, gateway: Gateway) -> None:
    made = gateway.api("POST", "/api/agents", json={"name": "helper-bot"})
    assert made.status_code == 201, made.text
    agent = made.json()["id"]
    allowed = gateway.api("PUT", f"/api/agents/{agent}/tools", json={"tools": ["code.execute"]})
    assert allowed.status_code == 200, allowed.text
    long_text = "please summarise what we discussed about the quarterly planning " * 4
    answer = json.loads(signed_in.run("chat", "-a", agent, "-m", long_text, "--json").stdout)
    parked = gateway.api("POST", "/api/chat", json={"content": RUN_CODE, "agentId": agent})
    assert parked.status_code == 202, parked.text
    approval = _pending_approval(gateway, parked.json()["taskId"])
    remembered = signed_in.invoke("memory", "add", "Deploys happen on Tuesdays", "--scope",
                                  "agent", "--agent", agent, "--json")  # fmt: skip
    assert remembered.code == 0, remembered.stderr
    entry = json.loads(remembered.stdout)["id"]

    for args, key in [
        (["sessions", "list"], answer["sessionId"]),
        (["tasks", "recent"], answer["taskId"]),
        (["tasks", "active"], parked.json()["taskId"]),
        (["approvals", "list"], approval),
        (["memory", "list"], entry),
    ]:
        lines = run_on_a_terminal(signed_in, *args, columns=100)
        assert max(map(len, lines)) <= 100, "\n".join(lines)
        row = _row(lines, key)
        assert "helper-bot" in row, "\n".join(lines)
        assert agent not in "\n".join(lines)

    assert signed_in.invoke("approvals", "reject", approval).code == 0
    messages = ["sessions", "messages", answer["sessionId"]]
    others = [["agents", "list"], ["approvals", "history"], ["admin", "audit", "list"],
              ["admin", "users", "list"], messages]  # fmt: skip
    for args in others:
        lines = run_on_a_terminal(signed_in, *args, columns=100)
        assert len(lines) > 2, args
        assert max(map(len, lines)) <= 100, "\n".join(lines)
        assert "…" not in "\n".join(lines[:2]), "\n".join(lines)  # headers whole

    shown = run_on_a_terminal(signed_in, "tasks", "show", answer["taskId"])
    assert f"helper-bot ({agent})" in _row(shown, "agent")
    session = run_on_a_terminal(signed_in, "sessions", "show", answer["sessionId"])
    assert f"helper-bot ({agent})" in _row(session, "agent")
    as_json = json.loads(signed_in.invoke("tasks", "recent", "--json").stdout)
    assert as_json[0]["agentId"] == agent
    assert "_agent" not in as_json[0]
    as_csv = signed_in.invoke("tasks", "recent", "--format", "csv").stdout.splitlines()
    assert as_csv[0] == "id,status,agent,description,created"
    assert agent in as_csv[1]
