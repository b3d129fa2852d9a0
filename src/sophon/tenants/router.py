"""`/api/admin/tenants` (Enterprise, licence feature `multi_tenancy`). Tenants are managed from the
default tenant only, so a tenant's own admins can't create, change or delete other tenants."""

from __future__ import annotations

from fastapi import Response, status

from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.identity.guard import PrincipalDep, requires
from sophon.identity.users import service as users_service
from sophon.platform.access import api_router
from sophon.platform.errors import NotAuthorized
from sophon.platform.pagination import Page, page_in_memory
from sophon.platform.permissions import Permission as P
from sophon.platform.principal import Principal
from sophon.platform.schemas import error_responses
from sophon.platform.tenancy import DEFAULT_TENANT_SLUG, acting_in
from sophon.tenants import service
from sophon.tenants.schemas import MemberIn, MemberOut, TenantIn, TenantOut, TenantPatchIn

router = api_router("/admin/tenants", tags=["Admin: tenants"])
manage_tenants = requires(P.MANAGE_TENANTS, feature="multi_tenancy")


def _from_home(principal: Principal) -> None:
    if principal.tenant_slug != DEFAULT_TENANT_SLUG:
        raise NotAuthorized(
            "Tenants are managed from the default tenant.", {"tenant": principal.tenant_slug}
        )


@router.get("", operation_id="listTenants")
@manage_tenants
async def list_tenants(
    db: DbDep, principal: PrincipalDep, gateway: GatewayDep, page: PageDep
) -> Page[TenantOut]:
    """Every tenant of this Gateway."""
    _from_home(principal)
    listed = [TenantOut.of(t) for t in await service.list_all(db)]
    return page_in_memory(gateway.paginator, listed, page, "tenants", lambda tenant: tenant.id)


@router.post(
    "",
    operation_id="createTenant",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404),  # `initialAdmin` names no user
)
@manage_tenants
async def create_tenant(
    body: TenantIn, db: DbDep, principal: PrincipalDep, gateway: GatewayDep
) -> TenantOut:
    """Creates a tenant, optionally with an existing user as its first Admin."""
    _from_home(principal)
    tenant = await service.create(
        db,
        principal,
        slug=body.slug,
        name=body.name,
        description=body.description,
        tier_override=body.tier_override,
        gateway_tier=gateway.settings.tier,
    )
    if body.initial_admin:
        await users_service.add_to_tenant(db, principal, tenant.id, body.initial_admin, ["Admin"])
    return TenantOut.of(tenant)


@router.get("/{tenant_id}", operation_id="getTenant")
@manage_tenants
async def get_tenant(tenant_id: str, db: DbDep, principal: PrincipalDep) -> TenantOut:
    """One tenant."""
    _from_home(principal)
    return TenantOut.of(await service.get(db, tenant_id))


@router.patch("/{tenant_id}", operation_id="updateTenant")
@manage_tenants
async def update_tenant(
    tenant_id: str, body: TenantPatchIn, db: DbDep, principal: PrincipalDep, gateway: GatewayDep
) -> TenantOut:
    """Renames, describes, suspends a tenant, lowers its tier or sets its daily token budget."""
    _from_home(principal)
    tenant = await service.update(
        db,
        principal,
        tenant_id,
        gateway.settings.tier,
        name=body.name,
        description=body.description,
        tier_override=body.tier_override,
        clear_tier_override="tier_override" in body.model_fields_set and not body.tier_override,
        status=body.status,
        budget=body.budget.daily_tokens if body.budget is not None else None,
        clear_budget=body.budget is not None and body.budget.daily_tokens is None,
    )
    return TenantOut.of(tenant)


@router.delete("/{tenant_id}", operation_id="deleteTenant", status_code=status.HTTP_204_NO_CONTENT)
@manage_tenants
async def delete_tenant(tenant_id: str, db: DbDep, principal: PrincipalDep) -> Response:
    """Deletes a tenant and everything it owns (not the default tenant)."""
    _from_home(principal)
    await service.delete(db, principal, tenant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{tenant_id}/users", operation_id="listTenantUsers")
@manage_tenants
async def list_members(
    tenant_id: str, db: DbDep, principal: PrincipalDep, gateway: GatewayDep, page: PageDep
) -> Page[MemberOut]:
    """The tenant's members and their roles there."""
    _from_home(principal)
    await service.get(db, tenant_id)
    listed = [
        MemberOut(id=u.id, email=u.email, display_name=u.display_name, status=u.status, roles=roles)
        for u, roles in await users_service.members_of(db, tenant_id)
    ]
    scope = f"tenant-members:{tenant_id}"
    return page_in_memory(gateway.paginator, listed, page, scope, lambda member: member.id)


@router.post(
    "/{tenant_id}/users", operation_id="assignTenantUser", status_code=status.HTTP_201_CREATED
)
@manage_tenants
async def add_member(
    tenant_id: str, body: MemberIn, db: DbDep, principal: PrincipalDep
) -> MemberOut:
    """Makes an existing user a member of the tenant with the given roles."""
    _from_home(principal)
    await service.get(db, tenant_id)
    user = await users_service.add_to_tenant(db, principal, tenant_id, body.user, body.roles)
    with acting_in(db.sync_session, tenant_id):  # the role names as stored, not as given
        roles = [r.name for r in await users_service.roles_of(db, user.id)]
    return MemberOut(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        status=user.status,
        roles=roles,
    )
