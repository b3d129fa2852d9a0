"""Shared shapes of list commands: cursor pages (`{items, nextCursor, hasMore}`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any

import typer

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


def show_page(
    path: str,
    columns: Sequence[Column],
    *,
    limit: int,
    cursor: str | None,
    everything: bool,
    params: Mapping[str, Any] | None = None,
) -> None:
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
    rt.out.items(items, columns)
    if next_cursor:
        rt.out.note(f"More: --cursor {next_cursor} (or --all)")
