"""Who is acting: the authenticated caller, in the tenant the request is for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sophon.platform.permissions import ALL_PERMISSIONS, Permission


class AuthMethod(StrEnum):
    JWT = "jwt"
    TOKEN = "token"
    AUTO_ADMIN = "auto_admin"
    SYSTEM = "system"


@dataclass(frozen=True)
class Principal:
    user_id: str | None
    email: str | None
    tenant_id: str
    tenant_slug: str
    roles: tuple[str, ...]
    permissions: frozenset[Permission]
    method: AuthMethod
    session_id: str | None = None
    token_id: str | None = None
    must_change_password: bool = False
    scope: frozenset[Permission] | None = None
    """The subset the credential itself is limited to (an API token made with one); `None`:
    everything the user holds, as it changes. `permissions` is already narrowed by it."""
    credential_expires_at: datetime | None = None
    """When the credential itself ends (an API token's expiry); `None`: it does not."""

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def rate_key(self) -> str:
        """API tokens have buckets of their own, apart from their user's."""
        return f"tok:{self.token_id}" if self.token_id else f"usr:{self.user_id}"

    def actor(self) -> dict[str, Any]:
        """The audit trail's view of this principal."""
        return {
            "userId": self.user_id,
            "email": self.email,
            "role": self.roles[0] if self.roles else None,
            "tenantId": self.tenant_id,
        }


def system_principal(tenant_id: str, tenant_slug: str) -> Principal:
    """For work the Gateway does on its own behalf (start-up, CLI admin commands, jobs)."""
    return Principal(
        user_id=None,
        email=None,
        tenant_id=tenant_id,
        tenant_slug=tenant_slug,
        roles=("System",),
        permissions=ALL_PERMISSIONS,
        method=AuthMethod.SYSTEM,
    )
