"""First start: the default tenant, the built-in roles, and either the one-time setup secret (no
users yet) or, with AutoAdmin, the local admin."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from pathlib import Path

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from sophon.agents import service as agents_service
from sophon.audit import chain as audit_chain
from sophon.audit import service as audit
from sophon.identity.roles import service as roles_service
from sophon.identity.users import service as users_service
from sophon.platform.db import Database
from sophon.platform.tenancy import acting_in
from sophon.settings import Settings
from sophon.tenants import service as tenants

log = logging.getLogger("sophon.setup")
SETUP_TOKEN_FILE = "setup-token"
LOCAL_ADMIN_EMAIL = "admin@localhost"


def setup_token_path(settings: Settings) -> Path:
    return settings.data / SETUP_TOKEN_FILE


async def read_setup_token(path: Path) -> str | None:
    def read() -> str | None:
        return path.read_text().strip() if path.exists() else None

    return await asyncio.to_thread(read)


def discard_setup_token_on_commit(db: AsyncSession, path: Path) -> None:
    """Deletes the setup secret once the transaction that used it commits: setup is done and the
    secret is useless. A rollback keeps it, so the setup can be tried again."""

    def committed(session: Session) -> None:
        if session.get_nested_transaction() is None:  # the outermost commit, not a savepoint
            path.unlink(missing_ok=True)

    sa_event.listen(db.sync_session, "after_commit", committed)


async def prepare(settings: Settings, database: Database) -> None:
    first_with_key = not await asyncio.to_thread(audit_chain.sealing_done, settings)
    async with database.transaction() as db:
        tenant = await tenants.ensure_default(db)
        await roles_service.ensure_builtins(db)
        await audit.seal_legacy_chains(db, seal=first_with_key)
        with acting_in(db.sync_session, tenant.id):
            await agents_service.ensure_default_agent(db, settings.data)
        has_users = await users_service.any_user(db)
        if not has_users and settings.auto_admin:
            with acting_in(db.sync_session, tenant.id):
                await users_service.create_member(
                    db,
                    email=LOCAL_ADMIN_EMAIL,
                    display_name="Local Admin",
                    password=secrets.token_urlsafe(24),
                    roles=["Admin"],
                    must_change_password=False,
                )
            has_users = True
    if first_with_key:
        await asyncio.to_thread(audit_chain.mark_sealing_done, settings)
    await asyncio.to_thread(sync_setup_token, settings, has_users)


def sync_setup_token(settings: Settings, has_users: bool) -> None:
    """Writes the one-time setup secret while there are no users; removes it once there are."""
    path = setup_token_path(settings)
    if has_users:
        path.unlink(missing_ok=True)  # setup is done; the secret is useless, keep nothing around
        return
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
    log.warning(
        "no users yet: create the first admin with POST /api/auth/setup and the one-time "
        "setup token in %s (or run `sophon admin create-user`)",
        path,
    )
