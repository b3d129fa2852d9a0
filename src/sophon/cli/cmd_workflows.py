"""`sophon workflows list|show|validate|import|export|run|runs|cancel|enable|disable`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from sophon.cli.core import new_app
from sophon.cli.errors import EXIT_ERROR, EXIT_USAGE, fail
from sophon.cli.listing import AllOpt, CursorOpt, LimitOpt, show_page
from sophon.cli.runtime import runtime

app = new_app("Workflows: saved DAGs of steps, and their runs.")

COLUMNS = [
    ("id", "id"),
    ("name", "name"),
    ("enabled", "enabled"),
    ("paused", "paused"),
    ("trigger", "triggerType"),
    ("risk", "risk"),
    ("version", "version"),
]
DETAIL = [*COLUMNS, ("approval", "approval"), ("nodes", "nodeCount"), ("updated", "updatedAt")]
RUN_COLUMNS = [
    ("id", "id"),
    ("status", "status"),
    ("version", "version"),
    ("trigger", "_trigger"),
    ("started", "startedAt"),
    ("finished", "finishedAt"),
]
NODE_COLUMNS = [
    ("node", "nodeId"),
    ("type", "nodeType"),
    ("attempt", "attempt"),
    ("status", "status"),
    ("error", "_error"),
]
FINISHED = ("Completed", "Failed", "Cancelled")
WorkflowArg = Annotated[str, typer.Argument(help="Workflow id (wf_…).")]
FileArg = Annotated[str, typer.Argument(help="A definition JSON file, or - for stdin.")]


def path(workflow_id: str, suffix: str = "") -> str:
    return f"/api/workflows/{quote(workflow_id, safe='')}{suffix}"


def _read(source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as error:
        fail(f"cannot read {source}: {error.strerror}", EXIT_USAGE)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        fail(f"{source} is not JSON: {error}", EXIT_USAGE)


@app.command("list")
def list_(limit: LimitOpt = 50, cursor: CursorOpt = None, everything: AllOpt = False) -> None:
    """The tenant's workflows."""
    show_page("/api/workflows", COLUMNS, limit=limit, cursor=cursor, everything=everything)


@app.command()
def show(workflow: WorkflowArg) -> None:
    """One workflow with its definition."""
    rt = runtime()
    item = rt.api.get(path(workflow))
    if rt.format == "json":
        rt.out.raw_json(item)
        return
    rt.out.record(item, DETAIL)


@app.command()
def validate(file: FileArg) -> None:
    """Check a definition without saving it (exit 1 with the problem, naming node and field)."""
    rt = runtime()
    result = rt.api.post("/api/workflows/validate", json=_read(file))
    rt.out.done(f"Valid: {result['nodeCount']} nodes, risk {result['risk']}", result)


@app.command("import")
def import_(file: FileArg) -> None:
    """Save a definition (an export, or hand-written) as a new workflow."""
    rt = runtime()
    made = rt.api.post("/api/workflows/import", json=_read(file))
    note = (
        f" (waits for approval {made['approvalId']})" if made.get("approval") == "Pending" else ""
    )
    rt.out.done(f"Imported workflow {made['name']} ({made['id']}){note}", made)


@app.command()
def export(workflow: WorkflowArg) -> None:
    """Print the definition JSON (to save, edit and import)."""
    rt = runtime()
    rt.out.raw_json(rt.api.get(path(workflow, "/export")))


def _toggle(workflow: str, enabled: bool) -> None:
    rt = runtime()
    item = rt.api.patch(path(workflow), json={"enabled": enabled})
    if enabled and not item["enabled"] and item.get("approval") == "Pending":
        rt.out.done(
            f"Workflow {workflow}: enabled once approval {item['approvalId']} is approved", item
        )
        return
    rt.out.done(f"Workflow {workflow}: {'enabled' if item['enabled'] else 'disabled'}", item)


@app.command()
def enable(workflow: WorkflowArg) -> None:
    """Enable (live on its trigger); a risky workflow asks for an approval first."""
    _toggle(workflow, True)


@app.command()
def disable(workflow: WorkflowArg) -> None:
    """Disable: its trigger no longer starts runs."""
    _toggle(workflow, False)


@app.command()
def run(
    workflow: WorkflowArg,
    input_: Annotated[str | None, typer.Option("--input", help="JSON for `$input`.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the run ends.")] = False,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds --wait waits at most.")] = 300,
) -> None:
    """Start a run now; with --wait, print the finished run (exit 1 unless it Completed)."""
    rt = runtime()
    try:
        payload = json.loads(input_) if input_ is not None else None
    except json.JSONDecodeError as error:
        fail(f"--input is not JSON: {error}", EXIT_USAGE)
    started = rt.api.post(path(workflow, "/trigger"), json={"input": payload})
    if not wait:
        rt.out.done(f"Started run {started['runId']} (task {started['taskId']})", started)
        return
    deadline = time.monotonic() + timeout
    while True:
        # the task long-poll returns when the task ends; the run is read after it
        rt.api.get(
            f"/api/tasks/{quote(started['taskId'], safe='')}", params={"wait": 30}, timeout=60
        )
        result = rt.api.get(path(workflow, f"/runs/{quote(started['runId'], safe='')}"))
        if result["status"] in FINISHED or time.monotonic() > deadline:
            break
    _show_run(result)
    if result["status"] != "Completed":
        raise typer.Exit(EXIT_ERROR)


def _show_run(result: dict[str, Any]) -> None:
    rt = runtime()
    if rt.format == "json":
        rt.out.raw_json(result)
        return
    rt.out.record(
        {**result, "_trigger": result["trigger"].get("type")},
        [*RUN_COLUMNS, ("error", "error"), ("output", "output")],
    )
    nodes = [{**n, "_error": (n.get("error") or {}).get("message")} for n in result["nodes"]]
    rt.out.items(nodes, NODE_COLUMNS, title="nodes")


@app.command()
def runs(
    workflow: WorkflowArg,
    limit: LimitOpt = 20,
    cursor: CursorOpt = None,
    everything: AllOpt = False,
    status: Annotated[str | None, typer.Option(help="Only runs of this status.")] = None,
    run_id: Annotated[
        str | None, typer.Option("--run", help="Show this run with its nodes.")
    ] = None,
) -> None:
    """The workflow's runs, newest first (or one run with its node records)."""
    rt = runtime()
    if run_id:
        _show_run(rt.api.get(path(workflow, f"/runs/{quote(run_id, safe='')}")))
        return
    page = rt.api.page(path(workflow, "/runs"), limit=limit, cursor=cursor, status=status)
    items = page.items
    if everything:
        items = [
            i
            for p in rt.api.pages(path(workflow, "/runs"), limit=limit, status=status)
            for i in p.items
        ]
    rt.out.items([{**i, "_trigger": i["trigger"].get("type")} for i in items], RUN_COLUMNS)
    if page.next_cursor and not everything:
        rt.out.note(f"More: --cursor {page.next_cursor} (or --all)")


@app.command()
def cancel(workflow: WorkflowArg, run_id: Annotated[str, typer.Argument(help="Run id.")]) -> None:
    """Cancel a run: at once when it waits, after its running node otherwise."""
    rt = runtime()
    result = rt.api.post(path(workflow, f"/runs/{quote(run_id, safe='')}/cancel"))
    rt.out.done(f"Run {run_id}: {result['status']}", result)
