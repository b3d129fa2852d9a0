"""Shaping identity rows for the wire."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.identity.models import ApiToken, Role, User
from sophon.identity.roles import service as roles_service
from sophon.identity.schemas import RoleOut, TokenOut, UserOut
from sophon.identity.users import service as users_service


async def user_out(db: AsyncSession, user: User) -> UserOut:
    return (await users_out(db, [user]))[0]


async def users_out(db: AsyncSession, users: list[User]) -> list[UserOut]:
    """Users as the session's tenant sees them: their roles and membership status there (two
    queries for the whole list)."""
    ids = [u.id for u in users]
    roles = await users_service.roles_by_member(db, ids)
    statuses = await users_service.statuses_by_member(db, ids)
    return [
        UserOut.model_validate(user).model_copy(
            update={
                "roles": [r.name for r in roles[user.id]],
                # a suspended account is suspended everywhere; otherwise this tenant's say
                "status": user.status
                if user.status != "Active"
                else statuses.get(user.id, user.status),
            }
        )
        for user in users
    ]


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
