"""`sophon admin create-user`: the server-side way to make a user, straight on the database."""

from __future__ import annotations

import asyncio

from sophon.audit import service as audit
from sophon.audit.chain import load_audit_key
from sophon.identity import bootstrap
from sophon.identity.users import service as users_service
from sophon.platform.db import Database
from sophon.platform.principal import system_principal
from sophon.platform.security import configure_password_hashing
from sophon.platform.tenancy import acting_in
from sophon.settings import Settings
from sophon.tenants import service as tenants


async def create_user(
    settings: Settings, *, email: str, display_name: str, password: str, roles: list[str] | None
) -> tuple[str, str, list[str]]:
    """Creates a user in the default tenant; the first user ever becomes Admin, later ones
    Members (who may use the product) unless roles are named."""
    configure_password_hashing(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
    )
    database = Database(settings.db_url, audit_key=load_audit_key(settings))
    try:
        await bootstrap.prepare(settings, database)
        async with database.transaction() as db:
            first = not await users_service.any_user(db)
            chosen = roles or (["Admin"] if first else ["Member"])
            tenant = await tenants.default_tenant(db)
            with acting_in(db.sync_session, tenant.id):
                user = await users_service.create_member(
                    db,
                    email=email,
                    display_name=display_name,
                    password=password,
                    roles=chosen,
                    must_change_password=False,
                )
                actor = system_principal(tenant.id, tenant.slug)
                await audit.record(
                    db,
                    actor,
                    "user.create",
                    ("user", user.id),
                    details={"email": user.email, "roles": chosen, "via": "cli"},
                )
        await asyncio.to_thread(bootstrap.sync_setup_token, settings, True)
        return user.id, user.email, chosen
    finally:
        await database.close()
