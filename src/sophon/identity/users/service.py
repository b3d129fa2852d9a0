"""Users and their membership of tenants: the admin lifecycle (Active, Suspended, Deleted)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit import service as audit
from sophon.audit.marks import audited, exempt
from sophon.identity.auth.revocation import credentials_revoked
from sophon.identity.models import AuthSession, Membership, Role, RoleAssignment, User
from sophon.identity.roles import service as roles_service
from sophon.license.service import License
from sophon.platform.clock import utcnow
from sophon.platform.delegation import require_within
from sophon.platform.emails import normalize_email
from sophon.platform.errors import Conflict, NotAuthorized, NotFound, ValidationFailed
from sophon.platform.events import Audience, Event, after_commit
from sophon.platform.ids import new_id
from sophon.platform.permissions import Permission
from sophon.platform.principal import Principal
from sophon.platform.security import hash_password
from sophon.platform.tenancy import ALL_TENANTS, DEFAULT_TENANT_SLUG, acting_in, session_tenant

MIN_PASSWORD = 8
MAX_PASSWORD = 256


def check_password_policy(password: str, email: str) -> None:
    problem = None
    if len(password) < MIN_PASSWORD:
        problem = f"must be at least {MIN_PASSWORD} characters"
    elif len(password) > MAX_PASSWORD:
        problem = f"must be at most {MAX_PASSWORD} characters"
    elif normalize_email(password) == normalize_email(email):
        problem = "must not be the email address"
    elif len(set(password)) < 4:
        problem = "is too simple"
    if problem:
        raise ValidationFailed.on("body.password", f"The password {problem}.", problem)


async def by_email(db: AsyncSession, email: str) -> User | None:
    return await db.scalar(select(User).where(User.email == normalize_email(email)))


async def any_user(db: AsyncSession) -> bool:
    return bool(await db.scalar(select(func.count()).select_from(User)))


@exempt("its callers (user creation, first-admin setup, the local CLI) audit it")
async def create_member(
    db: AsyncSession,
    *,
    email: str,
    display_name: str,
    password: str,
    roles: list[str],
    must_change_password: bool,
) -> User:
    """Creates a user as a member of the session's tenant with the given roles."""
    email = normalize_email(email)
    check_password_policy(password, email)
    if await by_email(db, email) is not None:
        raise Conflict("A user with this email already exists.", {"email": email})
    resolved = await roles_service.resolve(db, roles)
    tenant_id = session_tenant(db.sync_session)
    user = User(
        id=new_id("usr"),
        email=email,
        display_name=display_name,
        password_hash=await hash_password(password),
        must_change_password=must_change_password,
        default_tenant_id=tenant_id,
    )
    db.add(user)
    await db.flush()
    db.add(Membership(user_id=user.id))
    await db.flush()
    for role in resolved:
        db.add(RoleAssignment(user_id=user.id, role_id=role.id))
    await db.flush()
    return user


USER_CREATED = "UserCreated"
"""Bus event of a new member (no hub forwards it; webhooks deliver it)."""


@dataclass(frozen=True)
class CreatedUser:
    user: User
    initial_password: str | None
    roles: list[str]


@audited("user.create", "tenant.user.assign")
async def create(
    db: AsyncSession,
    actor: Principal,
    *,
    email: str,
    display_name: str,
    password: str | None,
    roles: list[str],
    must_change_password: bool,
    license: License | None = None,
) -> CreatedUser:
    """A new member of the session's tenant; an email taken here is 409, one taken only in
    other tenants never says so (see `_audit_unrevealed`)."""
    email = normalize_email(email)
    if license is not None and license.valid and license.max_users is not None:
        users = int(await db.scalar(select(func.count()).select_from(User)) or 0)
        if users >= license.max_users:
            raise Conflict(
                f"The licence allows {license.max_users} users, all taken.",
                {"maxUsers": license.max_users},
            )
    if roles and not actor.can(Permission.ASSIGN_ROLES):
        raise NotAuthorized(
            "Missing required permission: AssignRoles", {"permission": "AssignRoles"}
        )
    resolved = await roles_service.resolve(db, roles)
    _refuse_beyond(actor, roles_service.union_permissions(resolved))
    generated = None if password else secrets.token_urlsafe(12)
    check_password_policy(password or generated or "", email)
    names = [r.name for r in sorted(resolved, key=lambda r: (not r.builtin, r.name))]
    existing = await by_email(db, email)
    if existing is not None and await _is_member(db, existing.id):
        raise Conflict("A user with this email already exists.", {"email": email})
    if existing is not None and _sees_every_tenant(actor):
        user = await add_to_tenant(db, actor, actor.tenant_id, existing.id, roles)
        return CreatedUser(user, None, names)
    if existing is not None:
        lookalike = _lookalike(existing.email, display_name, must_change_password)
        await _audit_unrevealed(db, actor, existing)
        return CreatedUser(lookalike, generated, names)
    user = await create_member(
        db,
        email=email,
        display_name=display_name,
        password=password or generated or "",
        roles=roles,
        must_change_password=must_change_password,
    )
    await audit.record(
        db, actor, "user.create", ("user", user.id), details={"email": user.email, "roles": roles}
    )
    after_commit(
        db,
        Event(
            USER_CREATED,
            {"userId": user.id, "email": user.email, "displayName": user.display_name},
            tenant_id=session_tenant(db.sync_session),
            audience=Audience(),
        ),
    )
    return CreatedUser(user, generated, names)


async def _is_member(db: AsyncSession, user_id: str) -> bool:
    return await db.scalar(select(Membership).where(Membership.user_id == user_id)) is not None


def _sees_every_tenant(actor: Principal) -> bool:
    """The default tenant's tenant managers list every tenant's members anyway."""
    return actor.can(Permission.MANAGE_TENANTS) and actor.tenant_slug == DEFAULT_TENANT_SLUG


async def _audit_unrevealed(db: AsyncSession, actor: Principal, account: User) -> None:
    """The email belongs to an account of other tenants, which this actor must not learn of: the
    answer looks like a new user's and nothing is written here. The account is left alone; the
    attempt is audited in the account's home tenant, whose admins may add them."""
    home = account.default_tenant_id or await db.scalar(
        select(Membership.tenant_id)
        .where(Membership.user_id == account.id)
        .order_by(Membership.created_at)
        .limit(1)
        .execution_options(**ALL_TENANTS)
    )
    if home is None:
        return
    with acting_in(db.sync_session, home):
        await audit.record(
            db,
            actor,
            "user.create",
            ("user", account.id),
            outcome="refused",
            details={"tenantId": actor.tenant_id, "reason": "the email has an account here"},
        )


def _lookalike(email: str, display_name: str, must_change_password: bool) -> User:
    now = utcnow()
    return User(
        id=new_id("usr"),
        email=email,
        display_name=display_name,
        password_hash="",
        status="Active",
        must_change_password=must_change_password,
        created_at=now,
        updated_at=now,
    )


def members() -> Select[User]:
    """Users who are members of the session's tenant (filtered through the membership)."""
    return select(User).join(Membership, Membership.user_id == User.id)


async def get_member(db: AsyncSession, user_id: str) -> User:
    """A user who is a member of the session's tenant; anyone else is 404."""
    user = await db.scalar(members().where(User.id == user_id))
    if user is None:
        raise NotFound("No such user.")
    return user


async def roles_of(db: AsyncSession, user_id: str) -> list[Role]:
    return (await roles_by_member(db, [user_id]))[user_id]


async def roles_by_member(db: AsyncSession, user_ids: list[str]) -> dict[str, list[Role]]:
    """Each member's roles in the session's tenant (built-ins first), in one query."""
    stmt = (
        select(RoleAssignment.user_id, Role)
        .join(Role, RoleAssignment.role_id == Role.id)
        .where(RoleAssignment.user_id.in_(user_ids))
        .order_by(Role.builtin.desc(), Role.name)
    )
    found: dict[str, list[Role]] = {user_id: [] for user_id in user_ids}
    for user_id, role in await db.execute(stmt):
        found[user_id].append(role)
    return found


async def statuses_by_member(db: AsyncSession, user_ids: list[str]) -> dict[str, str]:
    """Each member's membership status in the session's tenant, in one query."""
    stmt = select(Membership.user_id, Membership.status).where(Membership.user_id.in_(user_ids))
    rows = await db.execute(stmt)
    return {user_id: status for user_id, status in rows}  # noqa: C416 — Rows, not pairs


@audited("user.update", "user.suspend", "user.reactivate")
async def update_member(
    db: AsyncSession,
    actor: Principal,
    user_id: str,
    *,
    display_name: str | None = None,
    status: str | None = None,
    roles: list[str] | None = None,
    must_change_password: bool | None = None,
) -> User:
    user = await get_member(db, user_id)
    await _refuse_outranked(db, actor, user.id)
    changes: dict[str, object] = {}
    if display_name is not None:
        user.display_name = changes["displayName"] = display_name
    if must_change_password is not None:
        user.must_change_password = changes["mustChangePassword"] = must_change_password
    member = await _membership(db, user.id)
    if status is not None and status != member.status:
        if user.id == actor.user_id:
            raise Conflict("You can't change your own status.")
        if status != "Active":
            await _refuse_last_admin(db, user.id, [])
        member.status = changes["status"] = status
        if not await _member_elsewhere(db, user.id):  # the account lives only here: it follows
            user.status = status
            if status == "Suspended":
                await _end_sessions(db, user.id)
    if roles is not None:
        if not actor.can(Permission.ASSIGN_ROLES):
            raise NotAuthorized(
                "Missing required permission: AssignRoles", {"permission": "AssignRoles"}
            )
        resolved = await roles_service.resolve(db, roles)
        _refuse_beyond(actor, roles_service.union_permissions(resolved))
        await _refuse_last_admin(db, user.id, resolved)
        await db.execute(delete(RoleAssignment).where(RoleAssignment.user_id == user.id))
        for role in resolved:
            db.add(RoleAssignment(user_id=user.id, role_id=role.id))
        changes["roles"] = [r.name for r in resolved]
    await db.flush()
    if "status" in changes or "roles" in changes:
        credentials_revoked(db, user.id, "membership")
    action = {"Suspended": "user.suspend", "Active": "user.reactivate"}.get(
        str(changes.get("status")), "user.update"
    )
    await audit.record(db, actor, action, ("user", user.id), details=changes)
    return user


def _refuse_beyond(actor: Principal, permissions: frozenset[Permission]) -> None:
    """Nobody hands out, or acts on someone holding, permissions they lack themselves."""
    require_within(
        actor, permissions, "You can't manage a user who holds permissions you lack, or grant them."
    )


async def _refuse_outranked(db: AsyncSession, actor: Principal, user_id: str) -> None:
    _refuse_beyond(actor, roles_service.union_permissions(await roles_of(db, user_id)))


async def _refuse_last_admin(db: AsyncSession, user_id: str, keep: list[Role]) -> None:
    """A tenant must keep at least one active Admin, or nobody could manage it any more."""
    if any(r.builtin and r.name == "Admin" for r in keep):
        return
    admins = await db.scalars(
        select(RoleAssignment.user_id)
        .join(Role, Role.id == RoleAssignment.role_id)
        .join(Membership, Membership.user_id == RoleAssignment.user_id)
        .join(User, User.id == RoleAssignment.user_id)
        .where(
            Role.builtin.is_(True),
            Role.name == "Admin",
            Membership.status == "Active",
            User.status == "Active",
        )
    )
    active = set(admins.all())
    if active == {user_id}:
        raise Conflict(
            "This is the tenant's last active Admin; make someone else Admin first.",
            {"reason": "last_admin"},
        )


async def _end_sessions(db: AsyncSession, user_id: str, tenant_id: str | None = None) -> int:
    """Ends the user's live sign-in sessions (those opened in one tenant, if given)."""
    stmt = update(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if tenant_id is not None:
        stmt = stmt.where(AuthSession.tenant_id == tenant_id)
    result = await db.execute(stmt.values(revoked_at=utcnow()))
    credentials_revoked(db, user_id, "sessions")
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def _membership(db: AsyncSession, user_id: str) -> Membership:
    member = await db.scalar(select(Membership).where(Membership.user_id == user_id))
    if member is None:
        raise NotFound("No such user.")
    return member


async def _member_elsewhere(db: AsyncSession, user_id: str) -> bool:
    """Whether the user also belongs to other tenants, whose admins this one must not overrule:
    then suspension, removal and forced logout act on this tenant's membership only."""
    others = await db.scalar(
        select(func.count())
        .select_from(Membership)
        .where(
            Membership.user_id == user_id,
            Membership.tenant_id != session_tenant(db.sync_session),
        )
        .execution_options(**ALL_TENANTS)
    )
    return bool(others)


@audited("user.delete")
async def delete_member(db: AsyncSession, actor: Principal, user_id: str) -> None:
    """Removes the user from this tenant; a user left in no tenant is deleted outright (their
    resources stay, owned by nobody)."""
    user = await get_member(db, user_id)
    if user.id == actor.user_id:
        raise Conflict("You can't delete yourself.")
    await _refuse_outranked(db, actor, user.id)
    await _refuse_last_admin(db, user.id, [])
    elsewhere = await _member_elsewhere(db, user.id)
    await db.execute(delete(Membership).where(Membership.user_id == user.id))
    if not elsewhere:
        await db.delete(user)  # (a removed membership alone already refuses this tenant's access)
    await audit.record(db, actor, "user.delete", ("user", user_id), details={"email": user.email})
    credentials_revoked(db, user_id, "removed")


@audited("user.logout")
async def force_logout(db: AsyncSession, actor: Principal, user_id: str) -> int:
    user = await get_member(db, user_id)
    await _refuse_outranked(db, actor, user.id)
    here = session_tenant(db.sync_session) if await _member_elsewhere(db, user.id) else None
    ended = await _end_sessions(db, user.id, here)
    await audit.record(db, actor, "user.logout", ("user", user.id), details={"sessions": ended})
    return ended


@audited("tenant.user.assign")
async def add_to_tenant(
    db: AsyncSession, actor: Principal, tenant_id: str, user_ref: str, roles: list[str]
) -> User:
    """Makes an existing user (by id or email) a member of another tenant with these roles."""
    user = await db.scalar(
        select(User).where((User.id == user_ref) | (User.email == normalize_email(user_ref)))
    )
    if user is None:
        raise NotFound("No such user.")
    with acting_in(db.sync_session, tenant_id):
        if await db.scalar(select(Membership).where(Membership.user_id == user.id)) is not None:
            raise Conflict("The user is already a member of this tenant.")
        resolved = await roles_service.resolve(db, roles)
        db.add(Membership(user_id=user.id))
        await db.flush()
        for role in resolved:
            db.add(RoleAssignment(user_id=user.id, role_id=role.id))
        await db.flush()
        await audit.record(
            db,
            actor,
            "tenant.user.assign",
            ("user", user.id),
            details={"tenantId": tenant_id, "roles": [r.name for r in resolved]},
        )
    return user


async def members_of(db: AsyncSession, tenant_id: str) -> list[tuple[User, list[str]]]:
    with acting_in(db.sync_session, tenant_id):
        rows = list((await db.scalars(members().order_by(User.email))).all())
        return [(u, [r.name for r in await roles_of(db, u.id)]) for u in rows]


async def revoke_tenant_connections(db: AsyncSession, tenant_id: str, reason: str) -> None:
    """Every member's live connections to the tenant are re-checked (e.g. it was suspended)."""
    with acting_in(db.sync_session, tenant_id):
        for user_id in (await db.scalars(select(Membership.user_id))).all():
            credentials_revoked(db, user_id, reason)
