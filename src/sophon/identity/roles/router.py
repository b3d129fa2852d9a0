"""`/api/admin/roles`: the built-in and custom roles of the tenant."""

from __future__ import annotations

from fastapi import Response, status

from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.identity.guard import PrincipalDep, requires
from sophon.identity.roles import service as roles_service
from sophon.identity.schemas import (
    RoleIn,
    RoleOut,
    RolePatchIn,
)
from sophon.identity.views import role_out
from sophon.platform.access import api_router
from sophon.platform.pagination import Page, page_in_memory
from sophon.platform.permissions import Permission as P

router = api_router("/admin/roles", tags=["Admin: roles"])


@router.get("", operation_id="listRoles")
@requires(P.VIEW_USERS)
async def list_roles(
    db: DbDep, gateway: GatewayDep, page: PageDep, principal: PrincipalDep
) -> Page[RoleOut]:
    """The built-in roles and the tenant's custom roles."""
    listed = [role_out(r) for r in await roles_service.list_roles(db)]
    scope = f"roles:{principal.tenant_id}"
    return page_in_memory(gateway.paginator, listed, page, scope, lambda role: role.id)


@router.post("", operation_id="createRole", status_code=status.HTTP_201_CREATED)
@requires(P.MANAGE_ROLES, feature="rbac")
async def create_role(body: RoleIn, db: DbDep, principal: PrincipalDep) -> RoleOut:
    """Creates a custom role from the permission catalog (Enterprise, licence feature `rbac`)."""
    role = await roles_service.create(
        db, principal, name=body.name, description=body.description, permissions=body.permissions
    )
    return role_out(role)


@router.get("/{role_id}", operation_id="getRole")
@requires(P.VIEW_USERS)
async def get_role(role_id: str, db: DbDep) -> RoleOut:
    """One role with its effective permissions."""
    return role_out(await roles_service.get(db, role_id))


@router.patch("/{role_id}", operation_id="updateRole")
@requires(P.MANAGE_ROLES, feature="rbac")
async def update_role(
    role_id: str, body: RolePatchIn, db: DbDep, principal: PrincipalDep
) -> RoleOut:
    """Edits a custom role; built-in roles are fixed (409)."""
    role = await roles_service.update(
        db,
        principal,
        role_id,
        name=body.name,
        description=body.description,
        permissions=body.permissions,
    )
    return role_out(role)


@router.delete("/{role_id}", operation_id="deleteRole", status_code=status.HTTP_204_NO_CONTENT)
@requires(P.MANAGE_ROLES, feature="rbac")
async def delete_role(role_id: str, db: DbDep, principal: PrincipalDep) -> Response:
    """Deletes an unused custom role; built-in roles are fixed (409)."""
    await roles_service.delete(db, principal, role_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
