"""Roles: the fixed built-ins (Admin, Operator, Viewer) and custom roles from the catalog."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit import service as audit
from sophon.audit.marks import audited, exempt
from sophon.identity.models import Role, RoleAssignment
from sophon.platform.errors import Conflict, NotFound, ValidationFailed
from sophon.platform.ids import new_id
from sophon.platform.permissions import (
    BUILTIN_DESCRIPTIONS,
    BUILTIN_ROLES,
    Permission,
    parse_permissions,
    require_known,
)
from sophon.platform.principal import Principal


def permissions_of(role: Role) -> frozenset[Permission]:
    if role.builtin:
        return BUILTIN_ROLES.get(role.name, frozenset())
    return parse_permissions(role.permissions)[0]


def union_permissions(roles: Iterable[Role]) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for role in roles:
        granted |= permissions_of(role)
    return frozenset(granted)


@exempt("seeding: the built-in roles of every tenant")
async def ensure_builtins(db: AsyncSession) -> None:
    existing = set((await db.scalars(select(Role.name).where(Role.builtin.is_(True)))).all())
    for name in BUILTIN_ROLES:
        if name not in existing:
            db.add(
                Role(
                    id=new_id("rol"),
                    name=name,
                    description=BUILTIN_DESCRIPTIONS[name],
                    permissions=[],
                    builtin=True,
                )
            )
    await db.flush()


async def list_roles(db: AsyncSession) -> list[Role]:
    stmt = select(Role).order_by(Role.builtin.desc(), Role.name)
    return list((await db.scalars(stmt)).all())


async def get(db: AsyncSession, role_id: str) -> Role:
    role = await db.get(Role, role_id)
    if role is None:
        raise NotFound("No such role.")
    return role


async def resolve(db: AsyncSession, names_or_ids: list[str]) -> list[Role]:
    """Roles named by name or id; unknown ones → 422 naming them."""
    if not names_or_ids:
        return []
    stmt = select(Role).where(Role.name.in_(names_or_ids) | Role.id.in_(names_or_ids))
    roles = list((await db.scalars(stmt)).all())
    found = {r.name for r in roles} | {r.id for r in roles}
    unknown = [n for n in names_or_ids if n not in found]
    if unknown:
        raise ValidationFailed(f"Unknown roles: {', '.join(unknown)}.", {"roles": unknown})
    return roles


def _checked_permissions(names: list[str]) -> list[str]:
    return sorted(p.value for p in require_known(names))


@audited("role.create")
async def create(
    db: AsyncSession, actor: Principal, *, name: str, description: str, permissions: list[str]
) -> Role:
    checked = _checked_permissions(permissions)
    if await db.scalar(select(Role).where(Role.name == name)) is not None:
        raise Conflict(f"A role named '{name}' already exists.", {"name": name})
    role = Role(id=new_id("rol"), name=name, description=description, permissions=checked)
    db.add(role)
    await db.flush()
    await audit.record(db, actor, "role.create", ("role", role.id), details={"name": name})
    return role


def _refuse_builtin(role: Role) -> None:
    if role.builtin:
        raise Conflict(
            f"The built-in role '{role.name}' is fixed; create a custom role instead.",
            {"role": role.name},
        )


@audited("role.update")
async def update(
    db: AsyncSession,
    actor: Principal,
    role_id: str,
    *,
    name: str | None = None,
    description: str | None = None,
    permissions: list[str] | None = None,
) -> Role:
    role = await get(db, role_id)
    _refuse_builtin(role)
    changes: dict[str, object] = {}
    if permissions is not None:
        role.permissions = _checked_permissions(permissions)
        changes["permissions"] = role.permissions
    if name is not None and name != role.name:
        if await db.scalar(select(Role).where(Role.name == name)) is not None:
            raise Conflict(f"A role named '{name}' already exists.", {"name": name})
        role.name = changes["name"] = name
    if description is not None:
        role.description = changes["description"] = description
    await db.flush()
    await audit.record(db, actor, "role.update", ("role", role.id), details=changes)
    return role


@audited("role.delete")
async def delete(db: AsyncSession, actor: Principal, role_id: str) -> None:
    role = await get(db, role_id)
    _refuse_builtin(role)
    in_use = await db.scalar(
        select(func.count()).select_from(RoleAssignment).where(RoleAssignment.role_id == role.id)
    )
    if in_use:
        raise Conflict(
            f"The role '{role.name}' is assigned to {in_use} member(s); unassign it first.",
            {"assignments": in_use},
        )
    await db.delete(role)
    await audit.record(db, actor, "role.delete", ("role", role.id), details={"name": role.name})
