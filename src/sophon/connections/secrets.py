"""The one resolver of `{{vault:<name>}}` references: a tenant's connection secrets by name.
Configuration (MCP registrations, `mcp.json`) keeps the reference; it is resolved only when
used (at connect time) and the resolved value is never stored or shown."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.connections.models import Connection, secret_aad
from sophon.platform.tenancy import ALL_TENANTS
from sophon.platform.vault import Vault, VaultError

REFERENCE = re.compile(r"\{\{\s*vault:([A-Za-z0-9][A-Za-z0-9_.-]{0,63})\s*\}\}")


class MissingSecret(LookupError):
    """A reference names no usable connection of the tenant."""

    def __init__(self, name: str, why: str = "names no connection of this tenant") -> None:
        super().__init__(f"the reference {{{{vault:{name}}}}} {why}")
        self.name = name


def references(values: Iterable[str]) -> list[str]:
    """The names referenced in `values`, in order of first use."""
    found: dict[str, None] = {}
    for value in values:
        found.update(dict.fromkeys(REFERENCE.findall(value)))
    return list(found)


class SecretBook:
    """One tenant's connections; a secret is decrypted only when a reference asks for it."""

    def __init__(self, vault: Vault, rows: Iterable[Connection] = ()) -> None:
        self._vault = vault
        self._rows = {row.name: (row.id, row.secret) for row in rows}

    def secret(self, name: str) -> str:
        found = self._rows.get(name)
        if found is None:
            raise MissingSecret(name)
        try:
            return self._vault.decrypt(found[1], secret_aad(found[0]))
        except VaultError:
            raise MissingSecret(name, "can't be decrypted (wrong vault key?)") from None

    def resolve(self, text: str) -> str:
        """`text` with every reference replaced by its secret; MissingSecret for an unknown."""
        return REFERENCE.sub(lambda match: self.secret(match.group(1)), text)

    def resolve_all(self, values: Mapping[str, str]) -> dict[str, str]:
        return {key: self.resolve(value) for key, value in values.items()}


async def book(db: AsyncSession, vault: Vault) -> SecretBook:
    """The connections of the session's tenant."""
    return SecretBook(vault, (await db.scalars(select(Connection))).all())


async def books(db: AsyncSession, vault: Vault) -> dict[str, SecretBook]:
    """Every tenant's connections, by tenant id (for work that spans tenants)."""
    rows = (await db.scalars(select(Connection).execution_options(**ALL_TENANTS))).all()
    by_tenant: dict[str, list[Connection]] = {}
    for row in rows:
        by_tenant.setdefault(row.tenant_id, []).append(row)
    return {tenant: SecretBook(vault, found) for tenant, found in by_tenant.items()}
