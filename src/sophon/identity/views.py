"""Shaping identity rows for the wire."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.identity import roles_service, users_service
from sophon.identity.models import ApiToken, Role, User
from sophon.identity.schemas import RoleOut, TokenOut, UserOut


async def user_out(db: AsyncSession, user: User) -> UserOut:
    """The user as the session's tenant sees them: their roles and membership status there."""
    roles = await users_service.roles_of(db, user.id)
    status = await users_service.membership_status(db, user.id)
    if user.status != "Active":
        status = user.status  # suspended everywhere
    return UserOut.model_validate(user).model_copy(
        update={"roles": [r.name for r in roles], "status": status}
    )


def role_out(role: Role) -> RoleOut:
    return RoleOut(
        id=role.id,
        name=role.name,
        description=role.description,
        permissions=sorted(p.value for p in roles_service.permissions_of(role)),
        builtin=role.builtin,
        created_at=role.created_at,
    )


def token_out(token: ApiToken) -> TokenOut:
    return TokenOut.model_validate(token)
