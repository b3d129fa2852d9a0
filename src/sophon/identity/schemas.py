from __future__ import annotations

from typing import Literal

from pydantic import EmailStr, Field

from sophon.platform.schemas import ApiModel, RequestModel, Timestamp

UserStatus = Literal["Active", "Suspended"]


class UserOut(ApiModel):
    id: str
    email: str
    display_name: str
    status: str
    must_change_password: bool
    roles: list[str] = []
    created_at: Timestamp
    last_login_at: Timestamp | None = None


class LoginIn(RequestModel):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class LoginOut(ApiModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_at: Timestamp
    session_id: str
    user: UserOut


class SetupIn(RequestModel):
    setup_token: str = Field(min_length=1)
    email: EmailStr
    password: str = Field(min_length=1, max_length=1024)
    display_name: str = Field(min_length=1, max_length=200)


class SetupStatusOut(ApiModel):
    required: bool = Field(description="True while no user exists: the first-run setup is due.")
    auto_admin: bool = Field(description="Requests without credentials act as the local admin.")


class SessionOut(ApiModel):
    id: str
    created_at: Timestamp
    last_seen_at: Timestamp
    expires_at: Timestamp
    ip: str | None
    user_agent: str | None
    current: bool


class TokenIn(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    expires_at: Timestamp | None = None
    permissions: list[str] | None = Field(
        None, description="A subset of your own permissions; omitted: all of them, as they change."
    )


class TokenOut(ApiModel):
    id: str
    name: str
    prefix: str
    permissions: list[str] | None
    expires_at: Timestamp | None
    created_at: Timestamp
    last_used_at: Timestamp | None


class NewTokenOut(TokenOut):
    token: str = Field(description="The secret, shown only this once.")


class PasswordIn(RequestModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class TenantRef(ApiModel):
    id: str
    slug: str
    name: str
    roles: list[str]


class MeOut(ApiModel):
    user: UserOut
    roles: list[str]
    permissions: list[str]
    tenant: TenantRef
    tenants: list[TenantRef]
    tier: str
    auth_method: str
    features: list[str] = Field(
        default_factory=list, description="Licence features in effect (e.g. `rbac`)."
    )


class UserCreateIn(RequestModel):
    email: EmailStr
    display_name: str = Field(min_length=1, max_length=200)
    password: str | None = Field(
        None, max_length=1024, description="Omitted: a one-time password is generated."
    )
    roles: list[str] = Field(default_factory=list, description="Role names or ids.")
    must_change_password: bool = True


class UserCreatedOut(UserOut):
    initial_password: str | None = Field(
        None, description="The generated password, shown only this once."
    )


class UserPatchIn(RequestModel):
    display_name: str | None = Field(None, min_length=1, max_length=200)
    status: UserStatus | None = None
    roles: list[str] | None = None
    must_change_password: bool | None = None


class RoleOut(ApiModel):
    id: str
    name: str
    description: str
    permissions: list[str]
    builtin: bool
    created_at: Timestamp


class RoleIn(RequestModel):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=500)
    permissions: list[str]


class RolePatchIn(RequestModel):
    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=500)
    permissions: list[str] | None = None


class LogoutOut(ApiModel):
    sessions_ended: int
