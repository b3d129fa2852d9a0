"""`sophon workflows`: validate, import, list, show, export, run --wait, runs, cancel, enable
and disable, against a real Gateway."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, one_line_error

pytestmark = pytest.mark.slow

DEFINITION = {
    "name": "double",
    "trigger": {"type": "manual"},
    "nodes": [
        {"id": "twice", "type": "data.transform", "config": {"output": "{{ $input.n * 2 }}"}},
        {"id": "pause", "type": "logic.wait", "config": {"seconds": "{{ $input.wait }}"}},
    ],
    "edges": [{"from": "twice", "to": "pause"}],
}


def test_workflow_commands(signed_in: Cli, tmp_path: Path) -> None:
    source = tmp_path / "flow.json"
    source.write_text(json.dumps(DEFINITION))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**DEFINITION, "edges": [{"from": "twice", "to": "nope"}]}))

    checked = signed_in.invoke("workflows", "validate", str(source))
    assert checked.code == 0, checked.stderr
    assert checked.stdout.startswith("Valid: 2 nodes, risk None")
    refused = signed_in.invoke("workflows", "validate", str(bad))
    assert refused.code == 1
    assert "edges[0].to" in one_line_error(refused.stderr)

    made = signed_in.invoke("workflows", "import", str(source), "--json")
    assert made.code == 0, made.stderr
    workflow_id = json.loads(made.stdout)["id"]
    listed = json.loads(signed_in.invoke("workflows", "list", "--json").stdout)
    assert [w["id"] for w in listed] == [workflow_id]
    assert signed_in.invoke("workflows", "list", "--format", "csv").stdout.startswith("id,name")
    exported = json.loads(signed_in.invoke("workflows", "export", workflow_id).stdout)
    assert exported["nodes"] == DEFINITION["nodes"]

    done = signed_in.invoke(
        "workflows", "run", workflow_id, "--input", '{"n": 21, "wait": 0}', "--wait", "--json"
    )
    assert done.code == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["status"] == "Completed"
    assert run["nodes"][0]["output"] == 42

    waiting = signed_in.invoke(
        "workflows", "run", workflow_id, "--input", '{"n": 1, "wait": 3600}', "--json"
    )
    run_id = json.loads(waiting.stdout)["runId"]
    cancelled = signed_in.invoke("workflows", "cancel", workflow_id, run_id)
    assert cancelled.code == 0, cancelled.stderr
    runs = json.loads(signed_in.invoke("workflows", "runs", workflow_id, "--json").stdout)
    assert {r["id"]: r["status"] for r in runs}[run_id] == "Cancelled"
    table = signed_in.invoke("workflows", "runs", workflow_id, "--run", run_id)
    assert "pause" in table.stdout

    enabled = signed_in.invoke("workflows", "enable", workflow_id)
    assert enabled.stdout.startswith(f"Workflow {workflow_id}: enabled")
    shown = json.loads(signed_in.invoke("workflows", "show", workflow_id, "--json").stdout)
    assert shown["enabled"] is True
    disabled = signed_in.invoke("workflows", "disable", workflow_id)
    assert disabled.stdout.startswith(f"Workflow {workflow_id}: disabled")
    bad_input = signed_in.invoke("workflows", "run", workflow_id, "--input", "{nope")
    assert bad_input.code == 2
