"""`sophon tasks active|recent|show|cancel`."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer

from sophon.cli.core import new_app
from sophon.cli.listing import AllOpt, CursorOpt, LimitOpt, show_page, with_agent_name
from sophon.cli.runtime import runtime

app = new_app("Agent tasks: running, finished, cancel.")

COLUMNS = [
    ("id", "id"),
    ("status", "status"),
    ("agent", "_agent"),
    ("description", "description"),
    ("created", "createdAt"),
]
DETAIL = [
    *COLUMNS,
    ("kind", "kind"),
    ("session", "sessionId"),
    ("tokens", "tokensUsed"),
    ("ms", "durationMs"),
    ("started", "startedAt"),
    ("finished", "finishedAt"),
    ("input tokens", "inputTokens"),
    ("output tokens", "outputTokens"),
    ("error", "error"),
    ("error code", "errorCode"),
    ("parent", "parentTaskId"),
    ("children", "children"),
    ("tool calls", "_tools"),
]
TaskArg = Annotated[str, typer.Argument(help="Task id (task_…).")]


def task_path(task_id: str, suffix: str = "") -> str:
    return f"/api/tasks/{quote(task_id, safe='')}{suffix}"


@app.command()
def active(limit: LimitOpt = 50, cursor: CursorOpt = None, everything: AllOpt = False) -> None:
    """Queued and running tasks."""
    show_page(
        "/api/tasks/active", COLUMNS, limit=limit, cursor=cursor, everything=everything,
        agents=True,
    )  # fmt: skip


@app.command()
def recent(
    limit: LimitOpt = 20,
    cursor: CursorOpt = None,
    everything: AllOpt = False,
    status: Annotated[str | None, typer.Option(help="Completed, Failed or Cancelled.")] = None,
    agent: Annotated[str | None, typer.Option(help="Only this agent's (id).")] = None,
    text: Annotated[str | None, typer.Option(help="Search the descriptions.")] = None,
) -> None:
    """Finished tasks, newest first."""
    show_page(
        "/api/tasks/history",
        COLUMNS,
        limit=limit,
        cursor=cursor,
        everything=everything,
        params={"status": status, "agentId": agent, "text": text},
        agents=True,
    )


@app.command()
def show(
    task: TaskArg,
    wait: Annotated[
        float, typer.Option(min=0, max=60, help="Wait up to N seconds for it to finish.")
    ] = 0,
) -> None:
    """One task: status, timing, tokens, tool calls, log."""
    rt = runtime()
    detail = rt.api.get(task_path(task), params={"wait": wait or None}, timeout=wait + 30)
    if rt.format == "json":
        rt.out.raw_json(detail)
        return
    calls = [f"{c['name']} ({c['status']})" for c in detail.get("toolCalls") or []]
    rt.out.record({**with_agent_name(rt, detail), "_tools": calls}, DETAIL)


@app.command()
def cancel(task: TaskArg) -> None:
    """Cancel a task: a queued one at once, a running one at its next step."""
    rt = runtime()
    result = rt.api.post(task_path(task, "/cancel"))
    rt.out.done(f"Task {task}: {result.get('status')}", result)
