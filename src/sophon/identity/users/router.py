"""`/api/admin/users`: the tenant's members, their roles and their sign-ins."""

from __future__ import annotations

from fastapi import Response, status

from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.identity.guard import PrincipalDep, requires
from sophon.identity.models import User
from sophon.identity.schemas import (
    LogoutOut,
    UserCreatedOut,
    UserCreateIn,
    UserOut,
    UserPatchIn,
)
from sophon.identity.users import service as users_service
from sophon.identity.views import user_out, users_out
from sophon.platform.access import api_router
from sophon.platform.pagination import Page
from sophon.platform.permissions import Permission as P

router = api_router("/admin/users", tags=["Admin: users"])


@router.get("", operation_id="listUsers")
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


@router.post("", operation_id="createUser", status_code=status.HTTP_201_CREATED)
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


@router.get("/{user_id}", operation_id="getUser")
@requires(P.VIEW_USERS)
async def get_user(user_id: str, db: DbDep) -> UserOut:
    """One member of the current tenant."""
    return await user_out(db, await users_service.get_member(db, user_id))


@router.patch("/{user_id}", operation_id="updateUser")
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


@router.delete("/{user_id}", operation_id="deleteUser", status_code=status.HTTP_204_NO_CONTENT)
@requires(P.MANAGE_USERS)
async def delete_user(user_id: str, db: DbDep, principal: PrincipalDep) -> Response:
    """Removes a member; their resources stay, owned by nobody."""
    await users_service.delete_member(db, principal, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{user_id}/logout", operation_id="logoutUser")
@requires(P.MANAGE_USERS)
async def logout_user(user_id: str, db: DbDep, principal: PrincipalDep) -> LogoutOut:
    """Ends every sign-in session of a member at once."""
    return LogoutOut(sessions_ended=await users_service.force_logout(db, principal, user_id))
