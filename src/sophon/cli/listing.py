"""Shared shapes of list commands: cursor pages (`{items, nextCursor, hasMore}`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any

import typer

from sophon.cli.client import optional
from sophon.cli.output import Column
from sophon.cli.runtime import Runtime, runtime

LimitOpt = Annotated[int, typer.Option("--limit", min=1, max=200, help="Items per page (1-200).")]
CursorOpt = Annotated[
    str | None, typer.Option("--cursor", help="Continue from the cursor a previous page printed.")
]
AllOpt = Annotated[bool, typer.Option("--all", help="Follow the cursors to the last page.")]


@contextlib.contextmanager
def progress(rt: Runtime, text: str) -> Iterator[None]:
    """A spinner on a terminal's stderr; nothing in JSON mode or when stderr is not a terminal."""
    if rt.format == "json" or not rt.out.err.is_terminal:
        yield
        return
    with rt.out.err.status(text):
        yield


def agent_names(rt: Runtime) -> dict[str, str]:
    """Agent id → name from one list call (its largest page); empty when it is not allowed."""
    page = optional(lambda: rt.api.page("/api/agents", limit=200), 403)
    return {str(a["id"]): str(a["name"]) for a in page.items} if page else {}


def with_agent_names(rt: Runtime, rows: Sequence[Any]) -> list[Any]:
    """The rows with `_agent`: in a table the agent's name (its id when unknown), in CSV the
    id as before, so scripts keep working."""
    wanted = rt.format == "table" and any(r.get("agentId") for r in rows)
    names = agent_names(rt) if wanted else {}
    return [{**r, "_agent": names.get(r.get("agentId") or "", r.get("agentId"))} for r in rows]


def with_agent_name(rt: Runtime, item: dict[str, Any]) -> dict[str, Any]:
    """One record with `_agent` as `name (id)` in a table."""
    agent = item.get("agentId")
    name = agent_names(rt).get(agent) if agent and rt.format == "table" else None
    return {**item, "_agent": f"{name} ({agent})" if name else agent}


def show_page(
    path: str,
    columns: Sequence[Column],
    *,
    limit: int,
    cursor: str | None,
    everything: bool,
    params: Mapping[str, Any] | None = None,
    agents: bool = False,
) -> None:
    """A page (or all pages) of a list; `agents`: the `_agent` column names the agent."""
    rt = runtime()
    query = dict(params or {})
    if everything:
        items: list[Any] = []
        with progress(rt, "Fetching…"):
            for page in rt.api.pages(path, limit=limit, **query):
                items.extend(page.items)
        next_cursor = None
    else:
        page = rt.api.page(path, limit=limit, cursor=cursor, **query)
        items, next_cursor = page.items, page.next_cursor
    if agents and rt.format != "json":
        items = with_agent_names(rt, items)
    rt.out.items(items, columns)
    if next_cursor:
        rt.out.note(f"More: --cursor {next_cursor} (or --all)")
