"""`sophon sessions list|show|messages|fork|delete`."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer

from sophon.cli.core import new_app
from sophon.cli.listing import AllOpt, CursorOpt, LimitOpt, show_page, with_agent_name
from sophon.cli.runtime import runtime

app = new_app("Chat sessions and their messages.")

COLUMNS = [
    ("id", "id"),
    ("title", "title"),
    ("agent", "_agent"),
    ("messages", "messageCount"),
    ("last message", "lastMessageAt"),
]
DETAIL = [
    *COLUMNS,
    ("tokens", "tokensUsed"),
    ("kind", "kind"),
    ("channel", "channelId"),
    ("parent", "parentSessionId"),
    ("forked from", "forkedFromMessageId"),
    ("archived", "archived"),
    ("created", "createdAt"),
]
MESSAGE_COLUMNS = [
    ("id", "id"),
    ("role", "role"),
    ("content", "content"),
    ("tools", "_tools"),
    ("time", "createdAt"),
]
SessionArg = Annotated[str, typer.Argument(help="Session id (sess_…).")]


def session_path(session_id: str, suffix: str = "") -> str:
    return f"/api/sessions/{quote(session_id, safe='')}{suffix}"


@app.command("list")
def list_(
    limit: LimitOpt = 50,
    cursor: CursorOpt = None,
    everything: AllOpt = False,
    agent: Annotated[str | None, typer.Option(help="Only this agent's (id).")] = None,
    archived: Annotated[
        bool | None, typer.Option("--archived/--active", help="Only archived or active ones.")
    ] = None,
) -> None:
    """Your sessions, newest first."""
    show_page(
        "/api/sessions",
        COLUMNS,
        limit=limit,
        cursor=cursor,
        everything=everything,
        params={"agentId": agent, "archived": None if archived is None else str(archived).lower()},
        agents=True,
    )


@app.command()
def show(session: SessionArg) -> None:
    """One session."""
    rt = runtime()
    found = rt.api.get(session_path(session))
    rt.out.record(found if rt.format == "json" else with_agent_name(rt, found), DETAIL)


def _with_tools(message: dict[str, Any]) -> dict[str, Any]:
    calls = message.get("toolCalls") or []
    return {**message, "_tools": [f"{c['name']} ({c['status']})" for c in calls]}


@app.command()
def messages(
    session: SessionArg,
    limit: LimitOpt = 50,
    cursor: CursorOpt = None,
    everything: AllOpt = False,
    newest_first: Annotated[bool, typer.Option("--newest-first")] = False,
) -> None:
    """The session's messages, oldest first."""
    rt = runtime()
    path = session_path(session, "/messages")
    order = "desc" if newest_first else "asc"
    if everything:
        items = [m for p in rt.api.pages(path, limit=limit, order=order) for m in p.items]
        next_cursor = None
    else:
        page = rt.api.page(path, limit=limit, cursor=cursor, order=order)
        items, next_cursor = page.items, page.next_cursor
    if rt.format == "json":
        rt.out.raw_json(items)
    else:
        rt.out.items([_with_tools(m) for m in items], MESSAGE_COLUMNS)
    if next_cursor:
        rt.out.note(f"More: --cursor {next_cursor} (or --all)")


@app.command()
def fork(
    session: SessionArg,
    from_message: Annotated[
        str | None, typer.Option(help="Keep the history up to this message (default: all).")
    ] = None,
) -> None:
    """A new session with this one's history (up to a message)."""
    rt = runtime()
    body = {"fromMessageId": from_message} if from_message else {}
    made = rt.api.post(session_path(session, "/fork"), json=body)
    if rt.format == "table":
        rt.out.text(f"Forked {session} into {made['id']}")
    else:
        rt.out.record(made, DETAIL)


@app.command()
def delete(session: SessionArg) -> None:
    """Delete a session and its messages (its running task is cancelled)."""
    rt = runtime()
    rt.api.delete(session_path(session))
    rt.out.done(f"Deleted session {session}", {"deleted": session})
