"""The one auth dependency: who is calling, in which tenant, may they call this route.

Routes declare `@requires(Permission...)`, `@requires_any(Permission...)` or, for the caller's
own identity only, `@authenticated`; the declaration becomes these dependencies through
`GuardedRoute`, so a handler never checks permissions itself."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit import service as audit
from sophon.deps import DbDep, gateway_of
from sophon.gateway import Gateway
from sophon.identity.auth import principals
from sophon.identity.models import ApiToken, AuthSession, Role, RoleAssignment, User
from sophon.platform.access import Access, declare
from sophon.platform.changes import ACTIVITY_ONLY
from sophon.platform.clock import utcnow
from sophon.platform.errors import NotAuthorized, RateLimited, Unauthenticated
from sophon.platform.permissions import Permission
from sophon.platform.principal import AuthMethod, Principal
from sophon.platform.ratelimit import RateLimitPolicy
from sophon.platform.request_context import tenant_id_var, user_id_var
from sophon.platform.tenancy import TENANT_HEADER, TENANT_SLUG_KEY, set_session_tenant
from sophon.platform.throttle import client_ip, enforce
from sophon.settings import Tier
from sophon.tenants import service as tenants

F = TypeVar("F", bound=Callable[..., Any])
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def _route_access(request: Request) -> Access:
    access: Access = request.scope["route"].access
    return access


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthenticated("Use 'Authorization: Bearer <token>'.")
    return credential.strip()


def requested_tenant(request: Request) -> str | None:
    """The tenant slug the request names: the `/api/tenants/{slug}` prefix wins over the header."""
    return request.scope.get(TENANT_SLUG_KEY) or request.headers.get(TENANT_HEADER) or None


async def current_principal(request: Request, db: DbDep) -> Principal:
    gateway = gateway_of(request)
    slug = requested_tenant(request)
    credential = _bearer(request)
    if credential is None:
        if not gateway.settings.auto_admin:
            raise Unauthenticated(headers={"WWW-Authenticate": "Bearer"})
        principal = await auto_admin_principal(db, slug)
    else:
        found = await resolve(request, db, gateway, credential, slug)
        principal = found.principal
        set_session_tenant(db.sync_session, principal.tenant_id)  # also when found in the cache
        if found.needs_touch(utcnow()):
            if request.method in ("GET", "HEAD"):  # keep reads read-only: touch on the side
                async with gateway.db.transaction(tenant_id=principal.tenant_id) as side:
                    await touch(side, found)
            else:
                await touch(db, found)
    user_id_var.set(principal.user_id)
    tenant_id_var.set(principal.tenant_id)
    return principal


async def resolve(
    request: Request, db: AsyncSession, gateway: Gateway, credential: str, slug: str | None
) -> principals.Authenticated:
    cache = gateway.auth.credentials
    if cache is None:
        return await _resolve_stored(request, db, gateway, credential, slug)
    key = cache.key(credential, slug)
    found = cache.get(key, utcnow())
    if found is None:
        generation = cache.generation  # before the first read, see TableWatch
        found = await _resolve_stored(request, db, gateway, credential, slug)
        cache.put(key, found, generation)
    return found


async def _resolve_stored(
    request: Request, db: AsyncSession, gateway: Gateway, credential: str, slug: str | None
) -> principals.Authenticated:
    try:
        if principals.is_api_token(credential):
            return await principals.from_api_token(db, credential, slug)
        return await principals.from_jwt(
            db, gateway.auth.jwt, gateway.auth.sessions, credential, slug
        )
    except Unauthenticated:
        # a stream of refused credentials from one address turns into 429s
        policy = RateLimitPolicy(gateway.settings.auth_failures_per_minute, 60.0)
        decision = await gateway.limiter.hit(f"authfail:ip:{client_ip(request)}", policy)
        if not decision.allowed:
            raise RateLimited(
                "Too many refused credentials from your address; retry later.",
                headers=decision.headers(),
            ) from None
        raise


async def touch(db: AsyncSession, found: principals.Authenticated) -> None:
    """Records activity (the idle timer, a token's last use) at most once a minute."""
    now = utcnow()
    principal = found.principal
    stamps = []
    if principal.session_id is not None:
        session = AuthSession.id == principal.session_id
        stamps.append(update(AuthSession).where(session).values(last_seen_at=now))
    if principal.token_id is not None:
        token = ApiToken.id == principal.token_id
        stamps.append(update(ApiToken).where(token).values(last_used_at=now))
    for stamp in stamps:  # no cached credential depends on a last-use time
        await db.execute(stamp.execution_options(**ACTIVITY_ONLY, synchronize_session=False))
    if principal.token_id is not None:
        await audit.record(db, principal, "auth.token.use", ("token", principal.token_id))
    found.last_active = now  # a cached credential then skips the touch for another minute


async def auto_admin_principal(db: DbDep, slug: str | None) -> Principal:
    tenant = await (tenants.by_slug(db, slug) if slug else tenants.default_tenant(db))
    if tenant is None:
        raise NotAuthorized(f"No tenant '{slug}'.", {"tenant": slug})
    set_session_tenant(db.sync_session, tenant.id)
    admin = await db.scalar(
        select(User)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .join(Role, Role.id == RoleAssignment.role_id)
        .where(Role.builtin.is_(True), Role.name == "Admin", User.status == "Active")
        .order_by(User.created_at)
    )
    if admin is None:
        raise Unauthenticated("AutoAdmin found no local admin; restart the Gateway.")
    return await principals.principal_in_tenant(db, admin, tenant, AuthMethod.AUTO_ADMIN)


_PRINCIPAL_KEY = "sophon.principal"  # scope entry: the caller, once the guard resolved it


async def principal_of(request: Request) -> Principal:
    """The caller, as the route's guard (`@requires`, `@authenticated`) resolved it; every route
    taking it declares one (tests/platform/test_route_table.py). It has no database dependency
    of its own: FastAPI would solve that again for each route taking the caller."""
    principal: Principal = request.scope[_PRINCIPAL_KEY]
    return principal


PrincipalDep = Annotated[Principal, Depends(principal_of)]


async def authorize(request: Request, db: DbDep) -> None:
    """The guard of every `@requires` route. It resolves the caller itself rather than through
    `PrincipalDep`: FastAPI solves a dependency's own dependencies again at each use, and this
    runs on every guarded request (the route's `PrincipalDep` then reads what it kept)."""
    principal = request.scope[_PRINCIPAL_KEY] = await current_principal(request, db)
    gateway = gateway_of(request)
    access = _route_access(request)
    if principal.must_change_password and not access.allow_pending_password:
        raise NotAuthorized(
            "You must change your password before doing anything else.",
            {"code": "password_change_required"},
        )
    await enforce(request, gateway.settings, gateway.limiter, principal.rate_key)
    check(principal, access.permissions, access.any_of)
    if access.tier is not None:
        tenant = await tenants.by_id(db, principal.tenant_id)
        current = tenants.effective_tier(tenant, gateway.settings.tier)
        if tenants.TIER_RANK[current] < tenants.TIER_RANK[Tier(access.tier)]:
            raise NotAuthorized(
                f"This needs the {access.tier} tier; this Gateway runs {current.value}.",
                {"requiredTier": access.tier, "tier": current.value},
            )
    if access.feature is not None and not await gateway.license.has_feature(db, access.feature):
        raise NotAuthorized(
            f"This needs a licence with the '{access.feature}' feature.",
            {"feature": access.feature, "requiredTier": Tier.ENTERPRISE.value},
        )


def check(principal: Principal, all_of: Iterable[str], any_of: Iterable[str] = ()) -> None:
    """403 `not_authorized` unless the principal holds every one of `all_of` and, when `any_of`
    names some, at least one of them (routes and hub connections and methods alike)."""
    for name in all_of:
        if not principal.can(Permission(name)):
            raise NotAuthorized(f"Missing required permission: {name}", {"permission": name})
    alternatives = list(any_of)
    if alternatives and not any(principal.can(Permission(n)) for n in alternatives):
        named = alternatives[0] if len(alternatives) == 1 else f"one of {', '.join(alternatives)}"
        raise NotAuthorized(
            f"Missing required permission: {named}",
            {"permission": alternatives[0], "anyOf": alternatives},
        )


def requires(
    *permissions: Permission,
    tier: Tier | None = None,
    feature: str | None = None,
    rate: str | None = "auto",
    allow_pending_password: bool = False,
    any_of: tuple[Permission, ...] = (),
) -> Callable[[F], F]:
    """Declares the permissions (all needed; of `any_of`, one), tier and licence feature a route
    requires."""
    parts = (",".join(p.value for p in permissions), "|".join(p.value for p in any_of))
    label = ";".join(part for part in parts if part) or "authenticated"
    if feature:
        tier = tier or Tier.ENTERPRISE
    return declare(
        Access(
            label,
            dependencies=(Depends(authorize),),
            error_statuses=(401, 403),
            security=BEARER,
            rate=rate,
            permissions=tuple(p.value for p in permissions),
            any_of=tuple(p.value for p in any_of),
            allow_pending_password=allow_pending_password,
            tier=tier.value if tier else None,
            feature=feature,
        )
    )


def requires_any(*permissions: Permission, rate: str | None = "auto") -> Callable[[F], F]:
    """Any one of `permissions` lets the caller in; the service decides how far each reaches
    (`UseChat`: one's own tasks; `ViewActiveTasks`: every task of the tenant)."""
    return requires(rate=rate, any_of=permissions)


authenticated = requires()
"""Any valid credential of a member of the tenant: only for routes about the caller's own
identity (who am I, sign-out, password, own sessions and tokens), where a token's subset can
only narrow what it does (see `platform/delegation.py`)."""
