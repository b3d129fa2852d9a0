"""`sophon connections list|add|test|rotate|delete`: the tenant's named credentials, used in
configuration as `{{vault:<name>}}`. Secrets are read from stdin (`--secret-stdin`) or asked for
without echo, never taken as an argument (it would land in the shell's history)."""

from __future__ import annotations

import sys
from typing import Annotated
from urllib.parse import quote

import typer

from sophon.cli.core import new_app
from sophon.cli.errors import EXIT_ERROR, EXIT_USAGE, CliError, fail
from sophon.cli.listing import AllOpt, CursorOpt, LimitOpt, show_page
from sophon.cli.runtime import runtime

app = new_app("Connections: named credentials (API key, bearer, basic), kept in the vault.")

COLUMNS = [
    ("id", "id"),
    ("name", "name"),
    ("service", "service"),
    ("kind", "authType"),
    ("secret", "secret"),
    ("reference", "reference"),
    ("last test ok", "lastTestOk"),
]
Ref = Annotated[str, typer.Argument(help="Connection id or name.")]
SecretStdin = Annotated[
    bool, typer.Option("--secret-stdin", help="Read the secret from stdin; else asked for.")
]


def _path(ref: str, tail: str = "") -> str:
    for page in runtime().api.pages("/api/connections", limit=200):
        for item in page.items:
            if ref in (item["id"], item["name"]):
                return f"/api/connections/{quote(str(item['id']), safe='')}{tail}"
    raise CliError(f"no connection {ref!r}")


def _secret(from_stdin: bool) -> str:
    if from_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    else:
        secret = str(typer.prompt("Secret", hide_input=True))
    if not secret:
        fail("no secret given", EXIT_USAGE)
    return secret


@app.command("list")
def list_connections(
    limit: LimitOpt = 50, cursor: CursorOpt = None, everything: AllOpt = False
) -> None:
    """The tenant's connections (secrets masked)."""
    show_page("/api/connections", COLUMNS, limit=limit, cursor=cursor, everything=everything)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Referenced as {{vault:<name>}}.")],
    kind: Annotated[
        str, typer.Option("--kind", help="apiKey, bearer or basic (username + password).")
    ] = "apiKey",
    service: Annotated[str, typer.Option("--service", help="What it is for.")] = "custom",
    username: Annotated[str | None, typer.Option("--username", help="basic only.")] = None,
    header: Annotated[str | None, typer.Option("--header", help="apiKey: its header.")] = None,
    test_url: Annotated[
        str | None, typer.Option("--test-url", help="A URL `test` calls with the credential.")
    ] = None,
    secret_stdin: SecretStdin = False,
) -> None:
    """Add a connection; its secret is kept encrypted and never shown again."""
    rt = runtime()
    body: dict[str, object] = {
        "name": name,
        "authType": kind,
        "service": service,
        "secret": _secret(secret_stdin),
    }
    for key, value in (("username", username), ("header", header), ("testUrl", test_url)):
        if value is not None:
            body[key] = value
    rt.out.record(rt.api.post("/api/connections", json=body), COLUMNS)


@app.command("test")
def test(connection: Ref) -> None:
    """Call the connection's test URL with it; exit 1 when it fails or can't be tested."""
    rt = runtime()
    result = rt.api.post(_path(connection, "/test"), timeout=60.0)
    rt.out.record(
        result,
        [("ok", "ok"), ("tested", "tested"), ("status", "statusCode"), ("error", "error")],
    )
    if not result.get("ok"):
        raise typer.Exit(EXIT_ERROR)


@app.command("rotate")
def rotate(connection: Ref, secret_stdin: SecretStdin = False) -> None:
    """Replace the secret (what uses it picks the new one up when it next connects)."""
    rt = runtime()
    made = rt.api.post(_path(connection, "/rotate"), json={"secret": _secret(secret_stdin)})
    rt.out.record(made, COLUMNS)


@app.command("delete")
def delete(
    connection: Ref,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a connection: references to it stop resolving."""
    rt = runtime()
    path = _path(connection)
    if not yes and sys.stdin.isatty() and not typer.confirm(f"Delete connection {connection}?"):
        fail("not deleted", EXIT_USAGE)
    rt.api.delete(path)
    rt.out.done(f"Deleted connection {connection}", {"deleted": path.rsplit("/", 1)[1]})
