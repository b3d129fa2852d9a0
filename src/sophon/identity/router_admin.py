"""`/api/admin/users` and `/api/admin/roles`: the tenant's members and the roles they hold."""

from __future__ import annotations

from fastapi import Response, status

from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.identity import roles_service, users_service
from sophon.identity.guard import PrincipalDep, requires
from sophon.identity.models import User
from sophon.identity.schemas import (
    LogoutOut,
    RoleIn,
    RoleOut,
    RolePatchIn,
    UserCreatedOut,
    UserCreateIn,
    UserOut,
    UserPatchIn,
)
from sophon.identity.views import role_out, user_out, users_out
from sophon.platform.access import api_router
from sophon.platform.pagination import Page, page_in_memory
from sophon.platform.permissions import Permission as P

users = api_router("/admin/users", tags=["Admin: users"])
roles = api_router("/admin/roles", tags=["Admin: roles"])


@users.get("", operation_id="listUsers")
@requires(P.VIEW_USERS)
async def list_users(
    db: DbDep, gateway: GatewayDep, page: PageDep, principal: PrincipalDep
) -> Page[UserOut]:
    """Members of the current tenant."""
    rows, cursor, more = await gateway.paginator.page(
        db, users_service.members(), [User.id], page, scope=f"users:{principal.tenant_id}"
    )
    items = await users_out(db, rows)
    return Page[UserOut](items=items, next_cursor=cursor, has_more=more)


@users.post("", operation_id="createUser", status_code=status.HTTP_201_CREATED)
@requires(P.MANAGE_USERS)
async def create_user(
    body: UserCreateIn, db: DbDep, principal: PrincipalDep, gateway: GatewayDep
) -> UserCreatedOut:
    """Creates a member of the current tenant; they must change the password at first login."""
    made = await users_service.create(
        db,
        principal,
        email=str(body.email),
        display_name=body.display_name,
        password=body.password,
        roles=body.roles,
        must_change_password=body.must_change_password,
        license=await gateway.license.current(db),
    )
    out = (await user_out(db, made.user)).model_copy(update={"roles": made.roles})
    return UserCreatedOut(**out.model_dump(), initial_password=made.initial_password)


@users.get("/{user_id}", operation_id="getUser")
@requires(P.VIEW_USERS)
async def get_user(user_id: str, db: DbDep) -> UserOut:
    """One member of the current tenant."""
    return await user_out(db, await users_service.get_member(db, user_id))


@users.patch("/{user_id}", operation_id="updateUser")
@requires(P.MANAGE_USERS)
async def update_user(
    user_id: str, body: UserPatchIn, db: DbDep, principal: PrincipalDep
) -> UserOut:
    """Renames, suspends or reactivates a member, or (with AssignRoles) sets their roles."""
    user = await users_service.update_member(
        db,
        principal,
        user_id,
        display_name=body.display_name,
        status=body.status,
        roles=body.roles,
        must_change_password=body.must_change_password,
    )
    return await user_out(db, user)


@users.delete("/{user_id}", operation_id="deleteUser", status_code=status.HTTP_204_NO_CONTENT)
@requires(P.MANAGE_USERS)
async def delete_user(user_id: str, db: DbDep, principal: PrincipalDep) -> Response:
    """Removes a member; their resources stay, owned by nobody."""
    await users_service.delete_member(db, principal, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@users.post("/{user_id}/logout", operation_id="logoutUser")
@requires(P.MANAGE_USERS)
async def logout_user(user_id: str, db: DbDep, principal: PrincipalDep) -> LogoutOut:
    """Ends every sign-in session of a member at once."""
    return LogoutOut(sessions_ended=await users_service.force_logout(db, principal, user_id))


@roles.get("", operation_id="listRoles")
@requires(P.VIEW_USERS)
async def list_roles(
    db: DbDep, gateway: GatewayDep, page: PageDep, principal: PrincipalDep
) -> Page[RoleOut]:
    """The built-in roles and the tenant's custom roles."""
    listed = [role_out(r) for r in await roles_service.list_roles(db)]
    scope = f"roles:{principal.tenant_id}"
    return page_in_memory(gateway.paginator, listed, page, scope, lambda role: role.id)


@roles.post("", operation_id="createRole", status_code=status.HTTP_201_CREATED)
@requires(P.MANAGE_ROLES, feature="rbac")
async def create_role(body: RoleIn, db: DbDep, principal: PrincipalDep) -> RoleOut:
    """Creates a custom role from the permission catalog (Enterprise, licence feature `rbac`)."""
    role = await roles_service.create(
        db, principal, name=body.name, description=body.description, permissions=body.permissions
    )
    return role_out(role)


@roles.get("/{role_id}", operation_id="getRole")
@requires(P.VIEW_USERS)
async def get_role(role_id: str, db: DbDep) -> RoleOut:
    """One role with its effective permissions."""
    return role_out(await roles_service.get(db, role_id))


@roles.patch("/{role_id}", operation_id="updateRole")
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


@roles.delete("/{role_id}", operation_id="deleteRole", status_code=status.HTTP_204_NO_CONTENT)
@requires(P.MANAGE_ROLES, feature="rbac")
async def delete_role(role_id: str, db: DbDep, principal: PrincipalDep) -> Response:
    """Deletes an unused custom role; built-in roles are fixed (409)."""
    await roles_service.delete(db, principal, role_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
