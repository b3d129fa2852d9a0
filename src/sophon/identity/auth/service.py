"""Login, refresh, logout, login sessions, API tokens, password changes and first-run setup."""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit import service as audit
from sophon.audit.marks import audited
from sophon.identity.auth.credential_cache import CredentialCache
from sophon.identity.auth.principals import SessionPolicy, from_jwt, session_alive
from sophon.identity.auth.revocation import credentials_revoked
from sophon.identity.bootstrap import discard_setup_token_on_commit, read_setup_token
from sophon.identity.models import ApiToken, AuthSession, User
from sophon.identity.users import service as users_service
from sophon.platform.clock import utcnow
from sophon.platform.delegation import delegate
from sophon.platform.emails import normalize_email
from sophon.platform.errors import (
    Conflict,
    InvalidRequest,
    NotAuthorized,
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
)
from sophon.platform.ids import new_id
from sophon.platform.kv import claim_setting_once
from sophon.platform.principal import AuthMethod, Principal
from sophon.platform.ratelimit import RateLimiter, RateLimitPolicy
from sophon.platform.security import (
    JwtCodec,
    burn_password_check,
    hash_password,
    new_api_token,
    verify_password,
)
from sophon.platform.tenancy import acting_in, set_session_tenant
from sophon.tenants import service as tenants


@dataclass(frozen=True)
class LoginGuard:
    """Throttling of failed logins per account and per IP."""

    limiter: RateLimiter
    per_account: RateLimitPolicy
    per_ip: RateLimitPolicy
    slowdown_seconds: float


@dataclass(frozen=True)
class AuthConfig:
    jwt: JwtCodec
    sessions: SessionPolicy
    login_guard: LoginGuard
    credentials: CredentialCache | None = None


@dataclass(frozen=True)
class IssuedLogin:
    access_token: str
    expires_at: datetime
    session: AuthSession
    user: User


async def _open_session(
    db: AsyncSession,
    config: AuthConfig,
    user: User,
    tenant_id: str,
    ip: str | None,
    agent: str | None,
) -> IssuedLogin:
    set_session_tenant(db.sync_session, tenant_id)  # the rest of the request acts there
    now = utcnow()
    session = AuthSession(
        id=new_id("asn"),
        user_id=user.id,
        tenant_id=tenant_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + config.sessions.absolute,
        ip=ip,
        user_agent=(agent or "")[:500] or None,
    )
    db.add(session)
    user.last_login_at = now
    await db.flush()
    token, expires = config.jwt.issue(user.id, session.id, tenant_id)
    return IssuedLogin(token, min(expires, session.expires_at), session, user)


@audited("auth.login")
async def login(
    db: AsyncSession,
    config: AuthConfig,
    *,
    email: str,
    password: str,
    ip: str | None,
    user_agent: str | None,
) -> IssuedLogin:
    guard = config.login_guard
    email = normalize_email(email)
    account_key, ip_key = f"login:acct:{email}", f"login:ip:{ip}"
    for key, policy in ((account_key, guard.per_account), (ip_key, guard.per_ip)):
        state = await guard.limiter.peek(key, policy)
        if not state.allowed:
            await _audit_refusal(db, None, email, "locked", "too many failed attempts")
            raise RateLimited(
                "Too many failed sign-in attempts; try again later.",
                headers=state.headers(),
                keep_writes=True,
            )
    user = await users_service.by_email(db, email)
    if user is None:
        await burn_password_check(password)
        ok = False
    else:
        ok = await verify_password(user.password_hash, password)
    if not ok or user is None or user.status != "Active":
        await _login_failed(db, config, email, account_key, ip_key, user)
        raise Unauthenticated("The email or password is incorrect.", keep_writes=True)
    await guard.limiter.reset(account_key)
    tenant_id = user.default_tenant_id or (await tenants.default_tenant(db)).id
    issued = await _open_session(db, config, user, tenant_id, ip, user_agent)
    roles = await users_service.roles_of(db, user.id)
    actor = {
        "userId": user.id,
        "email": user.email,
        "role": roles[0].name if roles else None,
        "tenantId": tenant_id,
    }
    await audit.record(db, actor, "auth.login", ("session", issued.session.id))
    return issued


async def _audit_refusal(
    db: AsyncSession, user: User | None, email: str, outcome: str, reason: str
) -> None:
    """Audits a refused sign-in in the user's tenant (or the default one); the refusal keeps
    this write although the request fails."""
    tenant_id = (user and user.default_tenant_id) or (await tenants.default_tenant(db)).id
    with acting_in(db.sync_session, tenant_id):
        await audit.record(
            db,
            audit.anonymous_actor(email),
            "auth.login",
            outcome=outcome,
            details={"reason": reason},
        )


async def _login_failed(
    db: AsyncSession,
    config: AuthConfig,
    email: str,
    account_key: str,
    ip_key: str,
    user: User | None,
) -> None:
    guard = config.login_guard
    account = await guard.limiter.hit(account_key, guard.per_account)
    from_ip = await guard.limiter.hit(ip_key, guard.per_ip)
    reason = (
        "inactive account" if user is not None and user.status != "Active" else "bad credentials"
    )
    await _audit_refusal(db, user, email, "failure", reason)
    # slow down repeated guessing, whether aimed at one account or spread from one address
    failures = max(account.limit - account.remaining, from_ip.limit - from_ip.remaining)
    if failures > 2 and guard.slowdown_seconds > 0:
        await asyncio.sleep(min(guard.slowdown_seconds * (failures - 2), 2.0))


@audited("auth.refresh")
async def refresh(db: AsyncSession, config: AuthConfig, principal: Principal) -> IssuedLogin:
    if principal.method is not AuthMethod.JWT or principal.session_id is None:
        raise InvalidRequest("Only a sign-in session can be refreshed; API tokens don't expire so.")
    session = await db.get(AuthSession, principal.session_id)
    user = await db.get(User, principal.user_id)
    if session is None or user is None or not session_alive(session, config.sessions, utcnow()):
        raise Unauthenticated("Your session has ended; sign in again.")
    session.last_seen_at = utcnow()
    token, expires = config.jwt.issue(user.id, session.id, session.tenant_id)
    await audit.record(db, principal, "auth.refresh", ("session", session.id))
    return IssuedLogin(token, min(expires, session.expires_at), session, user)


def _cookie_codec(config: AuthConfig, lifetime: timedelta) -> JwtCodec:
    return config.jwt.derived("dashboard-refresh-cookie", lifetime)


def refresh_cookie(config: AuthConfig, issued: IssuedLogin) -> tuple[str, datetime]:
    """A refresh credential for the Dashboard's httpOnly cookie, naming the sign-in session and
    valid until the session's absolute end (the session's idle timeout and revocation still
    apply at each use). It is never accepted as an access token, nor an access token as it."""
    session = issued.session
    codec = _cookie_codec(config, session.expires_at - utcnow())
    token, _ = codec.issue(issued.user.id, session.id, session.tenant_id)
    return token, session.expires_at


@audited("auth.refresh")
async def refresh_with_cookie(db: AsyncSession, config: AuthConfig, cookie: str) -> IssuedLogin:
    """A new access token for the live session the refresh cookie names."""
    codec = _cookie_codec(config, config.sessions.absolute)
    found = await from_jwt(db, codec, config.sessions, cookie, None)
    set_session_tenant(db.sync_session, found.principal.tenant_id)
    return await refresh(db, config, found.principal)


async def setup_required(db: AsyncSession) -> bool:
    """Whether the first-run setup is still due (no user exists)."""
    return not await users_service.any_user(db)


async def _revoke(db: AsyncSession, session: AuthSession) -> None:
    if session.revoked_at is None:
        session.revoked_at = utcnow()
        await db.flush()
        credentials_revoked(db, session.user_id, "session")


@audited("auth.logout")
async def logout(db: AsyncSession, principal: Principal) -> None:
    if principal.session_id is None:
        raise InvalidRequest("Only a sign-in session can log out; revoke API tokens instead.")
    session = await db.get(AuthSession, principal.session_id)
    if session is not None:
        await _revoke(db, session)
    await audit.record(db, principal, "auth.logout", ("session", principal.session_id))


async def list_sessions(
    db: AsyncSession, config: AuthConfig, principal: Principal
) -> list[AuthSession]:
    stmt = (
        select(AuthSession)
        .where(AuthSession.user_id == principal.user_id, AuthSession.revoked_at.is_(None))
        .order_by(AuthSession.created_at.desc())
    )
    now = utcnow()
    rows = (await db.scalars(stmt)).all()
    return [s for s in rows if session_alive(s, config.sessions, now)]


@audited("auth.session.revoke")
async def revoke_session(db: AsyncSession, principal: Principal, session_id: str) -> None:
    session = await db.get(AuthSession, session_id)
    if session is None or session.user_id != principal.user_id or session.revoked_at:
        raise NotFound("No such session.")
    await _revoke(db, session)
    await audit.record(db, principal, "auth.session.revoke", ("session", session_id))


@dataclass(frozen=True)
class NewToken:
    secret: str
    token: ApiToken


@audited("auth.token.create")
async def create_token(
    db: AsyncSession,
    principal: Principal,
    *,
    name: str,
    expires_at: datetime | None,
    permissions: list[str] | None,
) -> NewToken:
    if principal.user_id is None:
        raise NotAuthorized("Only a user can own API tokens.")
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidRequest("expiresAt must be in the future.", {"field": "expiresAt"})
    granted = delegate(principal, permissions, expires_at)
    secret, prefix, digest = new_api_token()
    token = ApiToken(
        id=new_id("tok"),
        user_id=principal.user_id,
        tenant_id=principal.tenant_id,
        name=name,
        prefix=prefix,
        token_hash=digest,
        permissions=None if granted.permissions is None else sorted(granted.permissions),
        expires_at=granted.expires_at,
    )
    db.add(token)
    await db.flush()
    await audit.record(
        db, principal, "auth.token.create", ("token", token.id), details={"name": name}
    )
    return NewToken(secret, token)


async def list_tokens(db: AsyncSession, principal: Principal) -> list[ApiToken]:
    stmt = (
        select(ApiToken)
        .where(ApiToken.user_id == principal.user_id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc())
    )
    return list((await db.scalars(stmt)).all())


@audited("auth.token.revoke")
async def revoke_token(db: AsyncSession, principal: Principal, token_id: str) -> None:
    token = await db.get(ApiToken, token_id)
    if token is None or token.user_id != principal.user_id or token.revoked_at is not None:
        raise NotFound("No such API token.")
    token.revoked_at = utcnow()
    await audit.record(db, principal, "auth.token.revoke", ("token", token.id))
    credentials_revoked(db, token.user_id, "token")


@audited("auth.password.change")
async def change_password(
    db: AsyncSession, principal: Principal, *, current: str, new: str
) -> None:
    user = await db.get(User, principal.user_id)
    if user is None:
        raise NotFound("No such user.")
    if not await verify_password(user.password_hash, current):
        raise NotAuthorized("The current password is incorrect.", {"field": "currentPassword"})
    users_service.check_password_policy(new, user.email)
    if new == current:
        raise ValidationFailed.on(
            "body.newPassword",
            "The new password must differ from the current one.",
            "same as current",
        )
    user.password_hash = await hash_password(new)
    user.must_change_password = False
    await db.execute(
        update(AuthSession)
        .where(
            AuthSession.user_id == user.id,
            AuthSession.revoked_at.is_(None),
            AuthSession.id != (principal.session_id or ""),
        )
        .values(revoked_at=utcnow())
    )
    await audit.record(db, principal, "auth.password.change", ("user", user.id))
    credentials_revoked(db, user.id, "password")


@audited("auth.setup")
async def setup_first_admin(
    db: AsyncSession,
    config: AuthConfig,
    *,
    setup_token_file: Path,
    given: str,
    email: str,
    password: str,
    display_name: str,
    ip: str | None,
    user_agent: str | None,
) -> IssuedLogin:
    """Creates the first Admin with the one-time setup secret from `setup_token_file`, which is
    deleted once this commits; afterwards 409."""
    if await users_service.any_user(db):
        raise Conflict("Setup is already complete.")
    setup_secret = await read_setup_token(setup_token_file)
    if setup_secret is None or not _same(setup_secret, given):
        raise Unauthenticated("The setup token is incorrect.")
    if not await claim_setting_once(db, "setup.completed", {"at": utcnow().isoformat()}):
        raise Conflict("Setup is already complete.")
    tenant = await tenants.default_tenant(db)
    with acting_in(db.sync_session, tenant.id):
        user = await users_service.create_member(
            db,
            email=email,
            display_name=display_name,
            password=password,
            roles=["Admin"],
            must_change_password=False,
        )
        await audit.record(
            db,
            {"userId": user.id, "email": user.email, "role": "Admin", "tenantId": tenant.id},
            "auth.setup",
            ("user", user.id),
        )
    discard_setup_token_on_commit(db, setup_token_file)
    return await _open_session(db, config, user, tenant.id, ip, user_agent)


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())
