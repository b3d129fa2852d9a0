"""The `sophon` command: local server commands (`serve`, `db upgrade`, `admin create-user`) and
client commands that talk to a Gateway over its public REST API only.

Exit codes: 0 success · 1 refused or failed · 2 usage · 3 Gateway unreachable · 4 auth (401/403)."""

from __future__ import annotations

import errno
import gc
import os
import socket
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from sophon.cli import (
    cmd_agents,
    cmd_approvals,
    cmd_auth,
    cmd_chat,
    cmd_config,
    cmd_connections,
    cmd_cron,
    cmd_documents,
    cmd_mcp,
    cmd_memory,
    cmd_models,
    cmd_ops,
    cmd_sessions,
    cmd_skills,
    cmd_system,
    cmd_tasks,
    cmd_webhooks,
    cmd_workflows,
)
from sophon.cli.cmd_admin import app as admin_app
from sophon.cli.core import EXIT_USAGE, SophonGroup, fail, new_app, root_options

if TYPE_CHECKING:
    from sophon.settings import Settings


def _root() -> typer.Typer:
    root = typer.Typer(
        name="sophon",
        cls=SophonGroup,
        help="Sophon: a self-hosted AI agent platform. Global flags (--gateway-url, --json, "
        "--format, --no-color) go before or after the command.",
        epilog="Exit codes: 0 ok, 1 refused or failed, 2 usage, 3 Gateway unreachable, "
        "4 authentication or permission.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        rich_markup_mode=None,
    )
    root.callback()(root_options)
    return root


app = _root()
db_app = new_app("Database maintenance (on this machine's Gateway settings).")
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
app.add_typer(cmd_config.app, name="config")
app.add_typer(cmd_agents.app, name="agents")
app.add_typer(cmd_models.app, name="models")
app.add_typer(cmd_models.tools_app, name="tools")
app.add_typer(cmd_sessions.app, name="sessions")
app.add_typer(cmd_tasks.app, name="tasks")
app.add_typer(cmd_approvals.app, name="approvals")
app.add_typer(cmd_documents.app, name="documents")
app.add_typer(cmd_ops.app, name="ops")
app.add_typer(cmd_memory.app, name="memory")
app.add_typer(cmd_cron.app, name="cron")
app.add_typer(cmd_webhooks.app, name="webhooks")
app.add_typer(cmd_workflows.app, name="workflows")
app.add_typer(cmd_mcp.app, name="mcp")
app.add_typer(cmd_skills.app, name="skills")
app.add_typer(cmd_connections.app, name="connections")
app.command()(cmd_chat.chat)
cmd_auth.register(app)
cmd_system.register(app)


def _settings(**overrides: object) -> Settings:
    from sophon.settings import SettingsError, load_settings

    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        fail(str(exc), EXIT_USAGE)


def _migrate(settings: Settings) -> None:
    from sophon.models import metadata
    from sophon.platform import migrate

    try:
        migrate.upgrade(settings.db_url, metadata)
    except Exception as exc:  # noqa: BLE001 — any failure here is reported as one line
        fail(f"cannot migrate the database at {_redacted(settings.db_url)}: {exc}")


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (env SOPHON_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (env SOPHON_PORT).")] = None,
) -> None:
    """Start the Gateway."""
    # Start-up builds some 300k objects that live as long as the process: the collector is off
    # until the server has started (GracefulServer.startup collects once, freezes them and turns
    # it back on); collecting them as they arrive cost about a tenth of the start-up's CPU.
    gc.disable()
    try:
        _serve(host, port)
    finally:
        gc.enable()


def _serve(host: str | None, port: int | None) -> None:
    from sophon.app import create_app
    from sophon.platform import server
    from sophon.platform.logs import configure_logging, shutdown_logging

    settings = _settings(host=host, port=port)
    try:
        sock = server.listen(settings.host, settings.port)
    except OSError as exc:
        fail(_cannot_listen(settings.host, settings.port, exc))
    configure_logging(settings.data, settings.log_level, settings.log_json)
    application = create_app(settings)  # its start-up applies pending migrations
    try:
        server.run(
            application,
            settings.host,
            settings.port,
            sock,
            settings.trusted_proxies,
            keep_alive_seconds=settings.keep_alive_seconds,
        )
    finally:
        sock.close()
        shutdown_logging()


def _cannot_listen(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is already in use — stop the other process or pass --port"
    if exc.errno == errno.EACCES:
        return f"not allowed to listen on port {port} on {host} — pass a port above 1023"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine — pass --host 127.0.0.1"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host {host!r} — pass --host 127.0.0.1"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all pending schema migrations."""
    settings = _settings()
    _migrate(settings)
    print(f"database at {_redacted(settings.db_url)} is up to date")


@admin_app.command("create-user")
def admin_create_user(
    email: Annotated[str, typer.Option(help="Sign-in email.")],
    display_name: Annotated[
        str | None, typer.Option(help="Shown name (default: from email).")
    ] = None,
    role: Annotated[
        list[str] | None,
        typer.Option(help="Role name; repeat for several. First user: Admin; later: Member."),
    ] = None,
    password: Annotated[
        str | None, typer.Option(help="Prompted for when omitted (env SOPHON_NEW_PASSWORD).")
    ] = None,
) -> None:
    """Create a user on this Gateway's database (the first one becomes Admin)."""
    import asyncio

    from sophon.cli.admin_local import create_user
    from sophon.platform.errors import DomainError

    settings = _settings()
    _migrate(settings)
    secret = password or os.environ.get("SOPHON_NEW_PASSWORD")
    if not secret:
        secret = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user_id, stored, roles = asyncio.run(
            create_user(
                settings,
                email=email,
                display_name=display_name or email.split("@")[0],
                password=secret,
                roles=role,
            )
        )
    except DomainError as exc:
        fail(exc.message)
    print(f"created {stored} ({user_id}) with roles {', '.join(roles)}")


def run() -> None:
    # `sophon serve` builds only its own command: Typer building the whole command tree (some
    # hundred client commands) was about a twentieth of a start's CPU
    if sys.argv[1:2] == ["serve"]:
        server_only = _root()
        server_only.command()(serve)
        server_only()
    else:
        app()
