"""The whole `sophon` command: local server commands (`serve`, `db upgrade`, `admin create-user`)
and client commands that talk to a Gateway over its public REST API only.

Exit codes: 0 success · 1 refused or failed · 2 usage · 3 Gateway unreachable · 4 auth (401/403)."""

from __future__ import annotations

import os
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
from sophon.cli.core import new_app, root_app
from sophon.cli.errors import fail
from sophon.cli.serve import HOST_HELP, PORT_HELP, SERVE_HELP, serve, settings_or_fail

if TYPE_CHECKING:
    from sophon.settings import Settings


app = root_app()
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


@app.command("serve", help=SERVE_HELP)
def serve_command(
    host: Annotated[str | None, typer.Option(help=HOST_HELP)] = None,
    port: Annotated[int | None, typer.Option(help=PORT_HELP)] = None,
) -> None:
    serve(host, port)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all pending schema migrations."""
    settings = settings_or_fail()
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

    settings = settings_or_fail()
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
