"""Turning credentials into a Principal, checked against live state on every request: a revoked,
expired or idle session, a revoked or expired token, or a suspended user is refused at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.identity.models import ApiToken, AuthSession, Membership, User
from sophon.identity.roles.service import union_permissions
from sophon.identity.users import service as users_service
from sophon.platform.clock import utcnow
from sophon.platform.errors import NotAuthorized, Unauthenticated
from sophon.platform.permissions import parse_permissions
from sophon.platform.principal import AuthMethod, Principal
from sophon.platform.security import TOKEN_PREFIX, JwtCodec, token_hash
from sophon.platform.tenancy import ALL_TENANTS, set_session_tenant
from sophon.tenants.models import Tenant

TOUCH_EVERY = timedelta(seconds=60)
NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta


@dataclass
class Authenticated:
    """A credential found valid, and until when it stays so without another look."""

    principal: Principal
    deadline: datetime
    """The first of its hard ends: the JWT's and the session's expiry, or the token's."""
    idle: timedelta | None
    """A sign-in session also ends after this long unused."""
    last_active: datetime | None
    """Its last recorded use (written at most every `TOUCH_EVERY`)."""

    def usable(self, now: datetime) -> bool:
        return now < self.deadline and (
            self.idle is None or self.last_active is None or self.last_active + self.idle > now
        )

    def needs_touch(self, now: datetime) -> bool:
        return self.last_active is None or self.last_active + TOUCH_EVERY <= now


def session_alive(session: AuthSession, policy: SessionPolicy, now: datetime) -> bool:
    return (
        session.revoked_at is None
        and session.expires_at > now
        and session.last_seen_at + policy.idle > now
    )


async def _standing(
    db: AsyncSession, user_id: str, slug: str | None, bound: str
) -> tuple[User, Tenant, Membership | None]:
    """The user, the tenant asked for (path prefix or header, else the credential's own) and the
    user's membership of it, in one query."""
    tenant_match = Tenant.slug == slug if slug is not None else Tenant.id == bound
    row = (
        await db.execute(
            select(User, Tenant, Membership)
            .select_from(User)
            .outerjoin(Tenant, tenant_match)
            .outerjoin(
                Membership,
                and_(Membership.user_id == User.id, Membership.tenant_id == Tenant.id),
            )
            .where(User.id == user_id)
            .execution_options(**ALL_TENANTS)  # the tenant is what is being established
        )
    ).first()
    user, tenant, member = row if row is not None else (None, None, None)
    if user is None or user.status != "Active":
        raise Unauthenticated("Your account is not active.")
    if tenant is None or tenant.status != "Active":
        raise NotAuthorized(f"You are not a member of the tenant '{slug}'.", {"tenant": slug})
    return user, tenant, member


async def for_user(db: AsyncSession, user_id: str, tenant_id: str) -> Principal:
    """The user's principal in a tenant as it stands now (work run on a user's behalf, e.g. a
    workflow run): Unauthenticated if the account is not active, NotAuthorized if not a member."""
    user, tenant, member = await _standing(db, user_id, None, tenant_id)
    return await _principal(db, user, tenant, member, AuthMethod.SYSTEM)


async def principal_in_tenant(
    db: AsyncSession, user: User, tenant: Tenant, method: AuthMethod
) -> Principal:
    set_session_tenant(db.sync_session, tenant.id)
    member = await db.scalar(select(Membership).where(Membership.user_id == user.id))
    return await _principal(db, user, tenant, member, method)


async def _principal(
    db: AsyncSession,
    user: User,
    tenant: Tenant,
    member: Membership | None,
    method: AuthMethod,
    *,
    session_id: str | None = None,
    token: ApiToken | None = None,
) -> Principal:
    set_session_tenant(db.sync_session, tenant.id)
    if member is None:
        raise NotAuthorized(
            f"You are not a member of the tenant '{tenant.slug}'.", {"tenant": tenant.slug}
        )
    if member.status != "Active":
        raise NotAuthorized(
            f"Your membership of the tenant '{tenant.slug}' is suspended.",
            {"tenant": tenant.slug, "code": "membership_suspended"},
        )
    roles = await users_service.roles_of(db, user.id)
    granted = union_permissions(roles)
    scope = None
    if token is not None and token.permissions is not None:
        scope = parse_permissions(token.permissions)[0]
        granted &= scope  # never more than the user has now
    return Principal(
        user_id=user.id,
        email=user.email,
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        roles=tuple(r.name for r in roles),
        permissions=granted,
        method=method,
        session_id=session_id,
        token_id=token.id if token else None,
        must_change_password=user.must_change_password,
        scope=scope,
        credential_expires_at=token.expires_at if token else None,
    )


async def from_jwt(
    db: AsyncSession, codec: JwtCodec, policy: SessionPolicy, jwt: str, slug: str | None
) -> Authenticated:
    claims = codec.read(jwt)
    if claims is None:
        raise Unauthenticated("The access token is invalid or has expired.")
    session = await db.get(AuthSession, claims.session_id)
    now = utcnow()
    if (
        session is None
        or session.user_id != claims.user_id
        or not session_alive(session, policy, now)
    ):
        raise Unauthenticated("Your session has ended; sign in again.")
    user, tenant, member = await _standing(db, claims.user_id, slug, session.tenant_id)
    principal = await _principal(db, user, tenant, member, AuthMethod.JWT, session_id=session.id)
    return Authenticated(
        principal,
        deadline=min(claims.expires_at, session.expires_at),
        idle=policy.idle,
        last_active=session.last_seen_at,
    )


async def from_api_token(db: AsyncSession, secret: str, slug: str | None) -> Authenticated:
    token = await db.scalar(
        select(ApiToken)
        .where(ApiToken.token_hash == token_hash(secret))
        .execution_options(**ALL_TENANTS)  # the token itself names its tenant
    )
    now = utcnow()
    if (
        token is None
        or token.revoked_at is not None
        or (token.expires_at is not None and token.expires_at <= now)
    ):
        raise Unauthenticated("The API token is invalid, revoked or expired.")
    user, tenant, member = await _standing(db, token.user_id, slug, token.tenant_id)
    if tenant.id != token.tenant_id:
        raise NotAuthorized("This API token belongs to another tenant.", {"tenant": tenant.slug})
    principal = await _principal(db, user, tenant, member, AuthMethod.TOKEN, token=token)
    return Authenticated(
        principal, deadline=token.expires_at or NEVER, idle=None, last_active=token.last_used_at
    )


def is_api_token(credential: str) -> bool:
    return credential.startswith(TOKEN_PREFIX)


async def acting_for(db: AsyncSession, user_id: str, tenant_id: str) -> Principal:
    """The user's standing in the tenant now, for work done on their behalf (a cron job firing):
    Unauthenticated for a suspended or deleted account, NotAuthorized for a suspended or ended
    membership."""
    user, tenant, member = await _standing(db, user_id, None, tenant_id)
    return await _principal(db, user, tenant, member, AuthMethod.SYSTEM)
