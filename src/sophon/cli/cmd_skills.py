"""`sophon skills list|show|install|uninstall|enable|disable|author|activate`."""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer

from sophon.cli.cmd_agents import agent_id
from sophon.cli.core import new_app
from sophon.cli.errors import EXIT_USAGE, fail
from sophon.cli.listing import AllOpt, CursorOpt, LimitOpt, show_page
from sophon.cli.runtime import runtime

app = new_app("Skills: install, enable per agent, roll back, author.")

COLUMNS = [
    ("name", "name"),
    ("version", "version"),
    ("status", "status"),
    ("source", "source"),
    ("signature", "signature"),
    ("tools", "tools"),
    ("agents", "enabledAgents"),
]
DETAIL = [
    ("name", "name"),
    ("version", "version"),
    ("description", "description"),
    ("status", "status"),
    ("source", "source"),
    ("signature", "signature"),
    ("signer", "signer"),
    ("tools", "tools"),
    ("agents", "enabledAgents"),
    ("files", "files"),
    ("versions", "versions"),
]
NameArg = Annotated[str, typer.Argument(help="The skill's name.")]
AgentOpt = Annotated[str, typer.Option("--agent", "-a", help="Agent id (agt_…) or name.")]
MAX_FOLDER_FILES = 2000


def _path(name: str, suffix: str = "") -> str:
    return f"/api/skills/{quote(name, safe='')}{suffix}"


def _summary(item: dict[str, Any]) -> dict[str, Any]:
    shown = dict(item)
    shown["tools"] = ", ".join(t["name"] for t in item.get("tools", [])) or "-"
    if "versions" in item:
        shown["versions"] = ", ".join(
            v["version"] + (" (active)" if v["active"] else "") for v in item["versions"]
        )
    return shown


def _show(item: dict[str, Any], fields: list[tuple[str, str]]) -> None:
    rt = runtime()
    if rt.format == "json":
        rt.out.raw_json(item)
    else:
        rt.out.record(_summary(item), fields)


@app.command("list")
def list_(limit: LimitOpt = 50, cursor: CursorOpt = None, everything: AllOpt = False) -> None:
    """Installed skills."""
    show_page("/api/skills", COLUMNS, limit=limit, cursor=cursor, everything=everything)


@app.command()
def show(name: NameArg) -> None:
    """One skill: tools, files, versions (`--json`: the manifest and SKILL.md too)."""
    _show(runtime().api.get(_path(name)), DETAIL)


def zip_folder(folder: Path) -> bytes:
    """The folder as a zip; links are refused, as the Gateway would refuse them."""
    buffer = io.BytesIO()
    count = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_symlink():
                fail(f"{path} is a link: skill packages may not contain links", EXIT_USAGE)
            if path.is_file() and "__pycache__" not in path.parts:
                count += 1
                if count > MAX_FOLDER_FILES:
                    fail(f"{folder} holds more than {MAX_FOLDER_FILES} files", EXIT_USAGE)
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


@app.command()
def install(
    source: Annotated[
        str, typer.Argument(help="A folder, a .zip/.tar.gz, an https URL or a name.")
    ],
    signature: Annotated[
        Path | None, typer.Option(help="Detached signature file (default: <archive>.sig).")
    ] = None,
    allow_unsigned: Annotated[
        bool, typer.Option("--allow-unsigned", help="Install without a trusted signature.")
    ] = False,
    allow_flagged: Annotated[
        bool, typer.Option("--allow-flagged", help="Admin: override the static check.")
    ] = False,
    version: Annotated[str | None, typer.Option(help="Marketplace: this version.")] = None,
) -> None:
    """Install a skill (a newer version keeps the previous one)."""
    rt = runtime()
    flags = {"allowUnsigned": allow_unsigned, "allowFlagged": allow_flagged}
    local = Path(source)
    if source.startswith(("https://", "http://")):
        sig = signature.read_text() if signature else None
        made = rt.api.post("/api/skills/install", json={"url": source, "signature": sig, **flags})
    elif local.exists():
        data = zip_folder(local) if local.is_dir() else local.read_bytes()
        sig_file = signature or Path(f"{source}.sig")
        fields = {k: str(v).lower() for k, v in flags.items()}
        if local.is_file() and sig_file.is_file():
            fields["signature"] = sig_file.read_text()
        request = httpx.Request(
            "POST", "http://gateway/", files={"file": (local.name, data)}, data=fields
        )
        body = request.read()
        made = rt.api.post(
            "/api/skills/install",
            content=body,
            headers={"Content-Type": request.headers["Content-Type"]},
        )
    else:
        made = rt.api.post(
            "/api/skills/install", json={"name": source, "version": version, **flags}
        )
    if rt.format == "table":
        rt.out.text(
            f"Installed {made['name']} {made['version']} ({made['signature']}, {made['status']})"
        )
    else:
        rt.out.raw_json(made)


@app.command()
def uninstall(
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Uninstall a skill: every agent loses its tools."""
    rt = runtime()
    if not yes and sys.stdin.isatty() and not typer.confirm(f"Uninstall {name}?"):
        fail("not uninstalled", EXIT_USAGE)
    rt.api.delete(_path(name))
    rt.out.done(f"Uninstalled {name}", {"uninstalled": name})


@app.command()
def enable(name: NameArg, agent: AgentOpt) -> None:
    """Enable a skill for an agent (its tools join the agent's allowlist)."""
    rt = runtime()
    done = rt.api.post(_path(name, "/enable"), json={"agentId": agent_id(agent)})
    rt.out.done(f"Enabled {name} for {agent}", done)


@app.command()
def disable(name: NameArg, agent: AgentOpt) -> None:
    """Disable a skill for an agent."""
    rt = runtime()
    done = rt.api.delete(_path(name, "/enable"), json={"agentId": agent_id(agent)})
    rt.out.done(f"Disabled {name} for {agent}", done)


@app.command()
def activate(name: NameArg, version: Annotated[str, typer.Argument()]) -> None:
    """Make an installed version the active one (roll back)."""
    rt = runtime()
    done = rt.api.post(_path(name, f"/versions/{quote(version, safe='')}/activate"))
    rt.out.done(f"{name} now runs version {version}", done)


@app.command()
def author(
    description: Annotated[str, typer.Argument(help="What the skill should do.")],
    name: Annotated[str | None, typer.Option(help="The skill's name.")] = None,
) -> None:
    """Have a model write a skill; it waits (Pending) for a High-risk approval."""
    rt = runtime()
    made = rt.api.post(
        "/api/skills/author", json={"description": description, "name": name}, timeout=300
    )
    if rt.format == "table":
        approval = made["versions"][0].get("approvalId")
        rt.out.text(
            f"Authored {made['name']} {made['version']} ({made['status']}); "
            f"approve it with: sophon approvals approve {approval}"
        )
    else:
        rt.out.raw_json(made)
