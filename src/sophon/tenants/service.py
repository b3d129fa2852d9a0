"""Tenants: the default one that always exists, and the Enterprise multi-tenant lifecycle."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents import service as agents_service
from sophon.audit import service as audit
from sophon.audit.marks import audited, exempt
from sophon.identity.users import service as users_service
from sophon.platform.errors import Conflict, NotFound, ValidationFailed
from sophon.platform.ids import new_id
from sophon.platform.principal import Principal
from sophon.platform.tenancy import ALL_TENANTS, DEFAULT_TENANT_SLUG, acting_in
from sophon.settings import Tier
from sophon.tenants.models import Tenant

TIER_RANK = {Tier.PERSONAL: 0, Tier.PRO: 1, Tier.ENTERPRISE: 2}


def effective_tier(tenant: Tenant | None, gateway_tier: Tier) -> Tier:
    """A tenant's tier override may only lower the Gateway's tier."""
    if tenant is None or not tenant.tier_override:
        return gateway_tier
    return min(gateway_tier, Tier(tenant.tier_override), key=TIER_RANK.__getitem__)


async def by_slug(db: AsyncSession, slug: str) -> Tenant | None:
    return await db.scalar(select(Tenant).where(Tenant.slug == slug))


async def by_id(db: AsyncSession, tenant_id: str) -> Tenant | None:
    return await db.get(Tenant, tenant_id)


async def by_ids(db: AsyncSession, tenant_ids: list[str]) -> list[Tenant]:
    """The tenants with these ids, whatever the session's tenant, by slug."""
    stmt = (
        select(Tenant)
        .where(Tenant.id.in_(tenant_ids))
        .order_by(Tenant.slug)
        .execution_options(**ALL_TENANTS)
    )
    return list((await db.scalars(stmt)).all())


async def all_ids(db: AsyncSession) -> list[str]:
    """The id of every tenant."""
    return list((await db.scalars(select(Tenant.id))).all())


async def default_tenant(db: AsyncSession) -> Tenant:
    tenant = await by_slug(db, DEFAULT_TENANT_SLUG)
    if tenant is None:
        raise RuntimeError("the default tenant is missing; start the Gateway once to create it")
    return tenant


@exempt("seeding: the default tenant of a fresh install")
async def ensure_default(db: AsyncSession) -> Tenant:
    """Creates the default tenant (and its audit chain) if it does not exist yet."""
    tenant = await by_slug(db, DEFAULT_TENANT_SLUG)
    if tenant is not None:
        return tenant
    tenant = Tenant(id=new_id("tnt"), slug=DEFAULT_TENANT_SLUG, name="Default")
    try:
        async with db.begin_nested():
            db.add(tenant)
            await db.flush()
    except IntegrityError:  # another replica made it at the same moment
        return await default_tenant(db)
    await _start_chain(db, tenant.id)
    return tenant


async def _start_chain(db: AsyncSession, tenant_id: str) -> None:
    with acting_in(db.sync_session, tenant_id):
        await audit.ensure_chain(db)


async def list_all(db: AsyncSession) -> list[Tenant]:
    return list((await db.scalars(select(Tenant).order_by(Tenant.created_at))).all())


async def get(db: AsyncSession, tenant_id: str) -> Tenant:
    tenant = await by_id(db, tenant_id)
    if tenant is None:
        raise NotFound("No such tenant.")
    return tenant


@audited("tenant.create")
async def create(
    db: AsyncSession,
    actor: Principal,
    *,
    slug: str,
    name: str,
    description: str = "",
    tier_override: str | None = None,
    gateway_tier: Tier = Tier.ENTERPRISE,
) -> Tenant:
    if tier_override and TIER_RANK[Tier(tier_override)] > TIER_RANK[gateway_tier]:
        raise ValidationFailed.on(
            "body.tierOverride",
            f"A tenant's tier may only lower the Gateway's ({gateway_tier.value}).",
            "above the Gateway tier",
        )
    if await by_slug(db, slug) is not None:
        raise Conflict(f"A tenant with the slug '{slug}' already exists.", {"slug": slug})
    tenant = Tenant(
        id=new_id("tnt"),
        slug=slug,
        name=name,
        description=description,
        tier_override=tier_override,
    )
    db.add(tenant)
    await db.flush()
    await _start_chain(db, tenant.id)
    from sophon.memory.learning import jobs as memory_jobs  # not loaded at start-up

    with acting_in(db.sync_session, tenant.id):  # its SOUL.md is written on first access
        await agents_service.ensure_default_agent(db, None)
        await memory_jobs.schedule_daily_logs(db)
    await audit.record(db, actor, "tenant.create", ("tenant", tenant.id), details={"slug": slug})
    return tenant


@audited("tenant.update")
async def update(
    db: AsyncSession,
    actor: Principal,
    tenant_id: str,
    gateway_tier: Tier,
    *,
    name: str | None = None,
    description: str | None = None,
    tier_override: str | None = None,
    clear_tier_override: bool = False,
    status: str | None = None,
    budget: int | None = None,
    clear_budget: bool = False,
) -> Tenant:
    tenant = await get(db, tenant_id)
    changes: dict[str, object] = {}
    if name is not None:
        tenant.name = changes["name"] = name
    if description is not None:
        tenant.description = changes["description"] = description
    if clear_tier_override:
        tenant.tier_override = changes["tierOverride"] = None
    elif tier_override is not None:
        if tenant.slug == DEFAULT_TENANT_SLUG:  # tenants are managed from here, on Enterprise
            raise Conflict("The default tenant runs the Gateway's tier; it can't be lowered.")
        if TIER_RANK[Tier(tier_override)] > TIER_RANK[gateway_tier]:
            raise ValidationFailed.on(
                "body.tierOverride",
                f"A tenant's tier may only lower the Gateway's ({gateway_tier.value}).",
                "above the Gateway tier",
            )
        tenant.tier_override = changes["tierOverride"] = tier_override
    if budget is not None or clear_budget:
        tenant.budget_daily_tokens = budget
        changes["budget"] = {"dailyTokens": budget}
    if status is not None and status != tenant.status:
        if tenant.slug == DEFAULT_TENANT_SLUG:
            raise Conflict("The default tenant can't be suspended.")
        tenant.status = changes["status"] = status
        if status != "Active":
            await users_service.revoke_tenant_connections(db, tenant.id, f"tenant {status}")
    await db.flush()
    await audit.record(db, actor, "tenant.update", ("tenant", tenant.id), details=changes)
    return tenant


@audited("tenant.delete")
async def delete(db: AsyncSession, actor: Principal, tenant_id: str) -> None:
    """Deletes a tenant and, by cascade, everything it owns."""
    tenant = await get(db, tenant_id)
    if tenant.slug == DEFAULT_TENANT_SLUG:
        raise Conflict("The default tenant can't be deleted.")
    await db.delete(tenant)
    await db.flush()
    await audit.record(
        db, actor, "tenant.delete", ("tenant", tenant_id), details={"slug": tenant.slug}
    )
