"""A workflow run survives `kill -9`: the Gateway is killed while a node runs; the next Gateway
takes the run over once the lease runs out, runs that node again, and the nodes completed
before the crash do not run again (their records are the same); inside a loop or a parallel
node, the iterations and branches finished before the crash do not run again either."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import SQLITE_ONLY, wait_until
from tests.e2e.test_crash_recovery import Api, Gateways, gateways
from tests.webhooks.receiver import Receiver

__all__ = ["gateways"]
FINISHED = ("Completed", "Failed", "Cancelled")
LOOPBACK = {"SOPHON_OUTBOUND_ALLOW": "127.0.0.1"}  # the api_call nodes call the test's receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.hold.clear()
    server.stop()


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


def _checkpointed_branches(database: Path, node_id: str) -> set[str]:
    """The branches of a parallel node whose results its record keeps (read from the file)."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT state FROM workflow_node_runs WHERE node_id = ? ORDER BY id", (node_id,)
        ).fetchall()
    return set(json.loads(rows[-1][0]).get("done", {})) if rows else set()


@SQLITE_ONLY
def test_loop_iterations_and_parallel_branches_done_before_a_kill_do_not_run_again(
    gateways: Gateways, tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    """Killed during iteration 2 of a loop, then during one parallel branch after the other
    finished: each restart goes on from the iteration or branch that was running."""
    database = Path(database_url.removeprefix("sqlite+aiosqlite:///"))

    def call(path: str) -> dict[str, Any]:
        return {"type": "action.api_call", "config": {"url": f"{receiver.url}{path}"}}

    definition = {
        "name": "crash a loop and a parallel",
        "trigger": {"type": "manual"},
        "enabled": True,
        "nodes": [
            {
                "id": "each",
                "type": "logic.loop",
                "config": {"items": [0, 1, 2, 3], "do": call("/loop/{{ $item }}")},
            },
            {
                "id": "both",
                "type": "logic.parallel",
                "config": {"branches": [call("/par/a"), call("/par/b")]},
            },
        ],
        "edges": [{"from": "each", "to": "both"}],
    }
    first = gateways.start(**LOOPBACK)
    api = Api(first, tmp_path / "data")
    workflow = api.ok("POST", "/api/workflows", 201, json=definition)
    if workflow.get("approvalId"):
        api.ok("POST", f"/api/approvals/{workflow['approvalId']}/approve")
    receiver.held_paths = {"/loop/2"}
    receiver.hold.set()
    started = api.ok("POST", f"/api/workflows/{workflow['id']}/trigger", 202, json={})
    # iterations 0 and 1 are checkpointed before iteration 2's request goes out
    wait_until(lambda: len(receiver.of("/loop/2")) == 1)
    second = gateways.prepare(**LOOPBACK)
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)

    receiver.held_paths = {"/par/b"}
    second.start()
    wait_until(lambda: len(receiver.of("/par/b")) == 1)
    wait_until(lambda: _checkpointed_branches(database, "both") == {"0"})  # branch a kept
    third = gateways.prepare(**LOOPBACK)
    second.proc.send_signal(signal.SIGKILL)
    second.proc.wait(timeout=10)

    receiver.hold.clear()
    third.start()
    api.use(third)
    run = _wait(api, workflow["id"], started["runId"], lambda r: r["status"] in FINISHED, 90)
    assert run["status"] == "Completed", run

    hits = {p: len(receiver.of(p)) for p in ("/loop/0", "/loop/1", "/loop/2", "/loop/3")}
    assert hits == {"/loop/0": 1, "/loop/1": 1, "/loop/2": 2, "/loop/3": 1}
    assert (len(receiver.of("/par/a")), len(receiver.of("/par/b"))) == (1, 2)
    for node_id, outputs in (("each", 4), ("both", 2)):
        records = [n for n in run["nodes"] if n["nodeId"] == node_id]
        assert [(n["attempt"], n["status"]) for n in records] == [(1, "Failed"), (2, "Completed")]
        assert records[0]["error"]["code"] == "interrupted"
        assert [o["status"] for o in records[1]["output"]] == [200] * outputs
