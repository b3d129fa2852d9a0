"""`sophon agents list|show|usage|create|delete|soul get|soul set`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from sophon.cli.core import new_app
from sophon.cli.errors import EXIT_USAGE, CliError, fail
from sophon.cli.listing import AllOpt, CursorOpt, LimitOpt, show_page
from sophon.cli.runtime import runtime

app = new_app("Agents and their persona files.")
soul_app = new_app("The agent's SOUL.md.")
app.add_typer(soul_app, name="soul")

COLUMNS = [
    ("id", "id"),
    ("name", "name"),
    ("model", "model"),
    ("default", "isDefault"),
    ("tools", "tools"),
    ("updated", "updatedAt"),
]
DETAIL = [
    ("id", "id"),
    ("name", "name"),
    ("description", "description"),
    ("model", "model"),
    ("temperature", "temperature"),
    ("max tokens", "maxTokens"),
    ("planning", "planningMode"),
    ("heartbeat", "heartbeat"),
    ("budget", "budget"),
    ("tools", "tools"),
    ("default", "isDefault"),
    ("owner", "ownerId"),
    ("created", "createdAt"),
    ("updated", "updatedAt"),
]
AgentArg = Annotated[str, typer.Argument(help="Agent id (agt_…) or name.")]


def agent_id(ref: str) -> str:
    """An agent id from an id or a name (names are unique in a tenant)."""
    if ref.startswith("agt_"):
        return ref
    api = runtime().api
    for page in api.pages("/api/agents", limit=200):
        for agent in page.items:
            if agent["name"] == ref:
                return str(agent["id"])
    raise CliError(f"no agent named {ref!r}")


def _path(ref: str, suffix: str = "") -> str:
    return f"/api/agents/{quote(agent_id(ref), safe='')}{suffix}"


@app.command("list")
def list_(limit: LimitOpt = 50, cursor: CursorOpt = None, everything: AllOpt = False) -> None:
    """The tenant's agents, newest first."""
    show_page("/api/agents", COLUMNS, limit=limit, cursor=cursor, everything=everything)


@app.command()
def show(agent: AgentArg) -> None:
    """One agent."""
    rt = runtime()
    rt.out.record(rt.api.get(_path(agent)), DETAIL)


USAGE_COLUMNS = [
    ("kind", "kind"),
    ("calls", "calls"),
    ("input tokens", "inputTokens"),
    ("output tokens", "outputTokens"),
]


@app.command()
def usage(
    agent: AgentArg,
    days: Annotated[int, typer.Option(min=1, max=366, help="How many days back.")] = 30,
) -> None:
    """The agent's model calls and tokens by kind: `chat` (its turns) and `memory` (learning)."""
    rt = runtime()
    found = rt.api.get(_path(agent, "/usage"), params={"days": days})
    if rt.format == "json":
        rt.out.raw_json(found)
        return
    rt.out.items(found["byKind"], USAGE_COLUMNS, title=f"since {found['since']}")


@app.command()
def create(
    name: Annotated[str, typer.Option(help="Unique in the tenant.")],
    description: Annotated[str | None, typer.Option()] = None,
    model: Annotated[
        str | None, typer.Option(help="<provider>/<model>; omitted: routing picks.")
    ] = None,
    temperature: Annotated[float | None, typer.Option(min=0, max=2)] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1)] = None,
    planning_mode: Annotated[
        str | None, typer.Option(help="Auto, LlmDecides, Always or Never.")
    ] = None,
) -> None:
    """Create an agent."""
    rt = runtime()
    body: dict[str, Any] = {"name": name}
    for key, value in (
        ("description", description),
        ("model", model),
        ("temperature", temperature),
        ("maxTokens", max_tokens),
        ("planningMode", planning_mode),
    ):
        if value is not None:
            body[key] = value
    made = rt.api.post("/api/agents", json=body)
    if rt.format == "table":
        rt.out.text(f"Created agent {made['name']} ({made['id']})")
    else:
        rt.out.record(made, DETAIL)


@app.command()
def delete(
    agent: AgentArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete an agent (its sessions keep showing it)."""
    rt = runtime()
    path = _path(agent)
    if not yes and sys.stdin.isatty() and not typer.confirm(f"Delete agent {agent}?"):
        fail("not deleted", EXIT_USAGE)
    rt.api.delete(path)
    rt.out.done(f"Deleted agent {agent}", {"deleted": path.rsplit("/", 1)[1]})


@soul_app.command("get")
def soul_get(agent: AgentArg) -> None:
    """Print SOUL.md (`--json`: with its version and ETag)."""
    rt = runtime()
    file = rt.api.get(_path(agent, "/soul"))
    if rt.format == "json":
        rt.out.raw_json(file)
    else:
        sys.stdout.write(file["content"])
        sys.stdout.flush()


@soul_app.command("set")
def soul_set(
    agent: AgentArg,
    file: Annotated[str, typer.Option("--file", "-f", help="Markdown file; `-` reads stdin.")],
) -> None:
    """Replace SOUL.md with a file's content (the previous one stays in the history)."""
    rt = runtime()
    try:
        content = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", EXIT_USAGE)
    saved = rt.api.put(
        _path(agent, "/soul"),
        content=content,
        headers={"Content-Type": "text/markdown; charset=utf-8"},
    )
    rt.out.done(
        f"Saved {saved['filename']} of {agent} (version {saved['version']})",
        {k: v for k, v in saved.items() if k != "content"},
    )


tools_app = new_app("The agent's tool allowlist.")
app.add_typer(tools_app, name="tools")


@tools_app.command("get")
def tools_get(agent: AgentArg) -> None:
    """The allowlist and the catalog tools it grants now."""
    rt = runtime()
    rt.out.record(
        rt.api.get(_path(agent, "/tools")), [("allowlist", "tools"), ("grants", "effective")]
    )


@tools_app.command("set")
def tools_set(
    agent: AgentArg,
    tools: Annotated[
        list[str] | None, typer.Argument(help="Tool names or `family.*` globs; none: no tools.")
    ] = None,
) -> None:
    """Replace the allowlist."""
    rt = runtime()
    saved = rt.api.put(_path(agent, "/tools"), json={"tools": tools or []})
    rt.out.record(saved, [("allowlist", "tools"), ("grants", "effective")])
