"""A workflow run survives `kill -9`: the Gateway is killed while a node runs; the next Gateway
takes the run over once the lease runs out, runs that node again, and the nodes completed
before the crash do not run again (their records are the same)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import SQLITE_ONLY
from tests.e2e.test_crash_recovery import Api, Gateways, gateways

__all__ = ["gateways"]

pytestmark = pytest.mark.slow

SLOW = "import time\ntime.sleep(4)\nprint('slept')"


def _run(api: Api, workflow_id: str, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = api.ok("GET", f"/api/workflows/{workflow_id}/runs/{run_id}")
    return run


def _wait(api: Api, workflow_id: str, run_id: str, accept: Any, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run = _run(api, workflow_id, run_id)
        if accept(run):
            return run
        time.sleep(0.2)  # polling another process's database state
    raise AssertionError(_run(api, workflow_id, run_id))


@SQLITE_ONLY
def test_a_run_killed_mid_node_resumes_from_that_node(gateways: Gateways, tmp_path: Path) -> None:
    first = gateways.start()
    api = Api(first, tmp_path / "data")
    definition = {
        "name": "crash me",
        "trigger": {"type": "manual"},
        "enabled": True,
        "nodes": [
            {"id": "before", "type": "data.transform", "config": {"output": {"n": 1}}},
            {"id": "slow", "type": "action.execute_code", "config": {"code": SLOW}},
            {
                "id": "after",
                "type": "data.transform",
                "config": {"output": "{{ $node.before.output.n + 1 }}"},
            },
        ],
        "edges": [{"from": "before", "to": "slow"}, {"from": "slow", "to": "after"}],
    }
    workflow = api.ok("POST", "/api/workflows", 201, json=definition)
    api.ok("POST", f"/api/approvals/{workflow['approvalId']}/approve")
    started = api.ok("POST", f"/api/workflows/{workflow['id']}/trigger", 202, json={})
    run = _wait(
        api,
        workflow["id"],
        started["runId"],
        lambda r: any(n["nodeId"] == "slow" for n in r["nodes"]),
    )
    before = next(n for n in run["nodes"] if n["nodeId"] == "before")
    assert before["status"] == "Completed"

    second = gateways.prepare()
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)
    second.start()
    api.use(second)
    run = _wait(api, workflow["id"], started["runId"], lambda r: r["status"] == "Completed", 90)

    records = run["nodes"]
    assert [n for n in records if n["nodeId"] == "before"] == [before]  # not run again
    slow = [n for n in records if n["nodeId"] == "slow"]
    assert [(n["attempt"], n["status"]) for n in slow] == [(1, "Failed"), (2, "Completed")]
    assert slow[0]["error"]["code"] == "interrupted"
    assert slow[1]["output"]["stdout"].strip() == "slept"
    assert next(n for n in records if n["nodeId"] == "after")["output"] == 2
    task = api.ok("GET", f"/api/tasks/{started['taskId']}")
    assert task["kind"] == "workflow"
    assert task["status"] == "Completed"
