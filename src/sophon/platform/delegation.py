"""What a credential may hand on to a credential it makes (API tokens; MCP server tokens and node
pairing, when they come, go through it too): never more than itself. The new credential carries no
permission its maker lacks and ends no later than its maker ends; a maker limited to a subset
hands on that subset when none is named, never "everything the user holds"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sophon.platform.clock import iso
from sophon.platform.errors import NotAuthorized
from sophon.platform.permissions import Permission, require_known
from sophon.platform.principal import Principal


@dataclass(frozen=True)
class Delegation:
    permissions: frozenset[Permission] | None
    """`None`: whatever the user holds at each use (only a maker that is not limited gets it)."""
    expires_at: datetime | None


def delegate(
    maker: Principal, permissions: list[str] | None, expires_at: datetime | None
) -> Delegation:
    """The permissions and end a new credential made by `maker` gets; asking for more than
    `maker` has is 403 `not_authorized`, an unknown permission 422."""
    granted: frozenset[Permission] | None
    if permissions is None:
        granted = None if maker.scope is None else maker.permissions
    else:
        granted = require_known(permissions)
        require_within(maker, granted)
    ends = maker.credential_expires_at
    if ends is not None:
        if expires_at is None:
            expires_at = ends
        elif expires_at > ends:
            raise NotAuthorized(
                "A credential can't outlive the one that makes it.",
                {"expiresAt": iso(ends)},
            )
    return Delegation(granted, expires_at)


def require_within(
    maker: Principal,
    wanted: frozenset[Permission],
    message: str = "A credential can't hand on permissions it lacks.",
) -> None:
    """403 `not_authorized` naming what `maker` lacks of `wanted`: nothing it hands on (a
    credential's permissions, a role it assigns) or acts on may reach beyond what it holds."""
    beyond = sorted(p.value for p in wanted - maker.permissions)
    if beyond:
        raise NotAuthorized(message, {"permission": beyond[0], "permissions": beyond})
