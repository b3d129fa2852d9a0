"""`sophon approvals list|show|history|approve|reject|edit`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from sophon.cli.core import new_app
from sophon.cli.errors import EXIT_USAGE, fail
from sophon.cli.listing import AllOpt, CursorOpt, LimitOpt, show_page, with_agent_name
from sophon.cli.runtime import runtime

app = new_app("Approvals of gated tool calls.")

COLUMNS = [
    ("id", "id"),
    ("tool", "toolName"),
    ("risk", "riskLevel"),
    ("agent", "_agent"),
    ("preview", "preview"),
    ("expires", "expiresAt"),
]
HISTORY_COLUMNS = [
    ("id", "id"),
    ("tool", "toolName"),
    ("status", "status"),
    ("agent", "_agent"),
    ("preview", "preview"),
    ("decided", "decidedAt"),
]
DETAIL = [
    *COLUMNS,
    ("status", "status"),
    ("task", "taskId"),
    ("arguments", "arguments"),
    ("approved arguments", "approvedArguments"),
    ("editable", "editable"),
    ("session", "sessionId"),
    ("requester", "requesterId"),
    ("reason", "reason"),
    ("decided by", "decidedBy"),
    ("decided", "decidedAt"),
]
ApprovalArg = Annotated[str, typer.Argument(help="Approval id (apr_…).")]


def approval_path(approval_id: str, suffix: str = "") -> str:
    return f"/api/approvals/{quote(approval_id, safe='')}{suffix}"


@app.command("list")
def list_(limit: LimitOpt = 50, cursor: CursorOpt = None, everything: AllOpt = False) -> None:
    """Pending approvals."""
    show_page(
        "/api/approvals", COLUMNS, limit=limit, cursor=cursor, everything=everything, agents=True
    )


@app.command()
def history(limit: LimitOpt = 50, cursor: CursorOpt = None, everything: AllOpt = False) -> None:
    """Decided and expired approvals, newest first."""
    show_page(
        "/api/approvals/history", HISTORY_COLUMNS, limit=limit, cursor=cursor,
        everything=everything, agents=True,
    )  # fmt: skip


@app.command()
def show(approval: ApprovalArg) -> None:
    """One approval: tool, risk, arguments, preview."""
    rt = runtime()
    found = rt.api.get(approval_path(approval))
    rt.out.record(found if rt.format == "json" else with_agent_name(rt, found), DETAIL)


def decided(result: dict[str, Any]) -> None:
    rt = runtime()
    rt.out.done(f"{result['id']} ({result['toolName']}): {result['status']}", result)


@app.command()
def approve(approval: ApprovalArg) -> None:
    """Approve with the original arguments."""
    decided(runtime().api.post(approval_path(approval, "/approve")))


@app.command()
def reject(
    approval: ApprovalArg,
    reason: Annotated[str | None, typer.Option(help="Shown to the agent.")] = None,
) -> None:
    """Reject; the agent sees an error result with the reason."""
    body = {"reason": reason} if reason else {}
    decided(runtime().api.post(approval_path(approval, "/reject"), json=body))


def parse_arguments(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        fail(f"the arguments are not valid JSON: {exc}", EXIT_USAGE)
    if not isinstance(value, dict):
        fail("the arguments must be a JSON object", EXIT_USAGE)
    return value


@app.command()
def edit(
    approval: ApprovalArg,
    arguments: Annotated[
        str | None, typer.Option("--arguments", "-a", help="The new arguments as a JSON object.")
    ] = None,
    file: Annotated[
        str | None, typer.Option("--file", "-f", help="Read them from a file (`-`: stdin).")
    ] = None,
) -> None:
    """Approve with changed arguments (only tools that allow it)."""
    if (arguments is None) == (file is None):
        fail("give the new arguments with exactly one of --arguments or --file", EXIT_USAGE)
    if file is not None:
        try:
            arguments = sys.stdin.read() if file == "-" else Path(file).read_text("utf-8")
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror}", EXIT_USAGE)
    body = {"arguments": parse_arguments(arguments or "")}
    decided(runtime().api.post(approval_path(approval, "/edit"), json=body))
