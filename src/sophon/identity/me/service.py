"""`GET /auth/me`: the caller as the Gateway sees them."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.identity.models import Membership, Role, RoleAssignment, User
from sophon.identity.schemas import MeOut, TenantRef
from sophon.identity.views import user_out
from sophon.platform.errors import NotFound
from sophon.platform.principal import Principal
from sophon.platform.tenancy import ALL_TENANTS
from sophon.settings import Tier
from sophon.tenants import service as tenants_service


async def describe(db: AsyncSession, principal: Principal, tier: Tier) -> MeOut:
    user = await db.get(User, principal.user_id)
    if user is None:
        raise NotFound("No such user.")
    member_of = await db.scalars(
        select(Membership.tenant_id)
        .where(Membership.user_id == user.id)
        .execution_options(**ALL_TENANTS)  # the caller's own memberships, in every tenant
    )
    tenants = await tenants_service.by_ids(db, list(member_of.all()))
    assigned = await db.execute(
        select(RoleAssignment.tenant_id, Role.name)
        .join(Role, Role.id == RoleAssignment.role_id)
        .where(RoleAssignment.user_id == user.id)
        .execution_options(**ALL_TENANTS)
    )
    roles_by_tenant: dict[str, list[str]] = defaultdict(list)
    for tenant_id, name in assigned:
        roles_by_tenant[tenant_id].append(name)
    refs = [
        TenantRef(id=t.id, slug=t.slug, name=t.name, roles=sorted(roles_by_tenant[t.id]))
        for t in tenants
    ]
    current = next(r for r in refs if r.id == principal.tenant_id)
    tier = tenants_service.effective_tier(
        await tenants_service.by_id(db, principal.tenant_id), tier
    )
    return MeOut(
        user=await user_out(db, user),
        roles=list(principal.roles),
        permissions=sorted(p.value for p in principal.permissions),
        tenant=current,
        tenants=refs,
        tier=tier.value,
        auth_method=principal.method.value,
    )
