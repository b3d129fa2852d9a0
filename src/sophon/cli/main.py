"""The `sophon` command. Local server commands live here; client commands join as features land."""

from __future__ import annotations

import os
import sys
from typing import Annotated, NoReturn

import typer

from sophon.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    name="sophon",
    help="Sophon: a self-hosted AI agent platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
admin_app = typer.Typer(help="Administration.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")


def fail(message: str, code: int = 1) -> NoReturn:
    print(f"sophon: {message}", file=sys.stderr)
    raise typer.Exit(code)


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        fail(str(exc), 2)


def _migrate(settings: Settings) -> None:
    from sophon.platform import migrate

    try:
        migrate.upgrade(settings.db_url)
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
    from sophon.app import create_app
    from sophon.platform import server
    from sophon.platform.logs import configure_logging, shutdown_logging

    settings = _settings(host=host, port=port)
    configure_logging(settings.data, settings.log_level, settings.log_json)
    application = create_app(settings)  # its start-up applies pending migrations
    try:
        server.run(application, settings.host, settings.port)
    finally:
        shutdown_logging()


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
        list[str] | None, typer.Option(help="Role name; repeat for several. First user: Admin.")
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
        user_id, roles = asyncio.run(
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
    print(f"created {email.strip().lower()} ({user_id}) with roles {', '.join(roles)}")


def run() -> None:
    app()
