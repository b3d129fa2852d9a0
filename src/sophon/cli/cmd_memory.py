"""`sophon memory list|search|add|forget|graph`."""

from __future__ import annotations

import html
import re
from typing import Annotated
from urllib.parse import quote

import typer
from rich.text import Text

from sophon.cli.core import new_app
from sophon.cli.listing import AllOpt, CursorOpt, LimitOpt, show_page
from sophon.cli.runtime import runtime

app = new_app("Memory: entries, search, forgetting and the entity graph.")

COLUMNS = [
    ("id", "id"),
    ("content", "content"),
    ("category", "category"),
    ("scope", "scope"),
    ("agent", "_agent"),
    ("tags", "tags"),
    ("importance", "importance"),
]
HIT_COLUMNS = [("score", "score"), ("id", "id"), ("snippet", "snippet"), ("category", "category")]
ScopeOpt = Annotated[str | None, typer.Option(help="`user` or `agent`.")]
CategoryOpt = Annotated[str | None, typer.Option(help="`fact`, `preference` or `observation`.")]
AgentOpt = Annotated[str | None, typer.Option(help="An agent id (agent-scoped memory).")]
_MARKED = re.compile(r"<mark>(.*?)</mark>", re.DOTALL)


def highlighted(snippet: str) -> Text:
    """The API's snippet (HTML-escaped, matches in `<mark>`) as text with the matches in bold:
    styled on a terminal, plain elsewhere."""
    text = Text()
    at = 0
    for match in _MARKED.finditer(snippet):
        text.append(html.unescape(snippet[at : match.start()]))
        text.append(html.unescape(match.group(1)), style="bold reverse")
        at = match.end()
    text.append(html.unescape(snippet[at:]))
    return text


@app.command("list")
def list_(
    limit: LimitOpt = 50,
    cursor: CursorOpt = None,
    everything: AllOpt = False,
    scope: ScopeOpt = None,
    category: CategoryOpt = None,
    agent: AgentOpt = None,
    tag: Annotated[str | None, typer.Option(help="Only entries with this tag.")] = None,
    text: Annotated[str | None, typer.Option(help="Only entries containing this text.")] = None,
) -> None:
    """Memory entries you may see, newest first."""
    params = {"scope": scope, "category": category, "agent": agent, "tag": tag, "text": text}
    show_page(
        "/api/memory/entries", COLUMNS, limit=limit, cursor=cursor, everything=everything,
        params=params, agents=True,
    )  # fmt: skip


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    scope: ScopeOpt = None,
    category: CategoryOpt = None,
    agent: AgentOpt = None,
) -> None:
    """Ranked search over memory (lexical, plus semantic when embeddings are configured)."""
    rt = runtime()
    params = {"q": query, "limit": limit, "scope": scope, "category": category, "agent": agent}
    found = rt.api.get("/api/memory/search", params={k: v for k, v in params.items() if v})
    if rt.format == "json":
        rt.out.raw_json(found)
        return
    if not found["items"] and rt.format == "table":
        rt.out.text(f"No matches for {query!r}.")
        return
    rows = [
        {**hit, "id": hit["entry"]["id"], "category": hit["entry"]["category"],
         "snippet": highlighted(str(hit.get("snippet") or ""))}
        for hit in found["items"]
    ]  # fmt: skip
    rt.out.items(rows, HIT_COLUMNS)


@app.command()
def add(
    content: Annotated[str, typer.Argument(help="What to remember.")],
    category: Annotated[str, typer.Option(help="`fact`, `preference` or `observation`.")] = "fact",
    scope: Annotated[str, typer.Option(help="`user` or `agent`.")] = "user",
    agent: AgentOpt = None,
    tag: Annotated[list[str] | None, typer.Option(help="A tag (repeatable).")] = None,
    importance: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.5,
) -> None:
    """Store a memory entry."""
    rt = runtime()
    body = {
        "content": content,
        "category": category,
        "scope": scope,
        "agentId": agent,
        "tags": tag or [],
        "importance": importance,
    }
    made = rt.api.post("/api/memory/entries", json=body)
    rt.out.done(f"Remembered {made['id']}", made)


@app.command()
def forget(entry: Annotated[str, typer.Argument(help="Entry id (mem_…).")]) -> None:
    """Ask to erase an entry everywhere; it happens once the approval is approved."""
    rt = runtime()
    accepted = rt.api.post(f"/api/memory/entries/{quote(entry, safe='')}/forget")
    rt.out.done(
        f"Forgetting {entry} awaits approval {accepted['approvalId']} "
        f"(sophon approvals approve {accepted['approvalId']})",
        accepted,
    )


@app.command()
def graph(
    entity: Annotated[str, typer.Argument(help="Entity id or name.")],
    depth: Annotated[int, typer.Option(min=1, max=3)] = 1,
) -> None:
    """What memory knows around an entity: nodes and relations."""
    rt = runtime()
    found = rt.api.get("/api/memory/graph", params={"entity": entity, "depth": depth})
    if rt.format == "json":
        rt.out.raw_json(found)
        return
    names = {node["id"]: node["name"] for node in found["nodes"]}
    edges = [
        {
            "subject": names.get(edge["subject"], edge["subject"]),
            "predicate": edge["predicate"],
            "object": names.get(edge["object"], edge["object"]),
            "until": edge.get("validTo"),
        }
        for edge in found["edges"]
    ]
    rt.out.items(
        edges,
        [("subject", "subject"), ("predicate", "predicate"), ("object", "object"),
         ("valid until", "until")],
    )  # fmt: skip
