"""`/api/auth`: sign-in sessions, API tokens, the caller's identity, first-run setup."""

from __future__ import annotations

from fastapi import Request, Response, status

from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.identity.auth import service as auth_service
from sophon.identity.bootstrap import setup_token_path
from sophon.identity.guard import PrincipalDep, authenticated, requires
from sophon.identity.me import service as me_service
from sophon.identity.schemas import (
    LoginIn,
    LoginOut,
    MeOut,
    NewTokenOut,
    PasswordIn,
    SessionOut,
    SetupIn,
    SetupStatusOut,
    TokenIn,
    TokenOut,
)
from sophon.identity.views import token_out, user_out
from sophon.platform.access import api_router, public
from sophon.platform.errors import NotAuthorized, Unauthenticated
from sophon.platform.pagination import Page, page_in_memory
from sophon.platform.throttle import client_ip

router = api_router("/auth", tags=["Auth"])
password_pending_ok = requires(allow_pending_password=True)
REFRESH_COOKIE = "sophon_refresh"
REFRESH_COOKIE_PATH = "/api/auth/refresh/cookie"
KEEP_HEADER = "x-sophon-refresh"
CSRF_HEADER = "x-sophon-csrf"


def _keep_signed_in(
    request: Request, response: Response, gateway: GatewayDep, issued: auth_service.IssuedLogin
) -> None:
    """With `X-Sophon-Refresh: cookie` (the Dashboard), also sets the refresh cookie: httpOnly,
    SameSite=Strict, Secure over TLS, sent only to its own endpoint."""
    if request.headers.get(KEEP_HEADER) != "cookie":
        return
    value, expires = auth_service.refresh_cookie(gateway.auth, issued)
    response.set_cookie(
        REFRESH_COOKIE,
        value,
        expires=expires,
        path=REFRESH_COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _same_origin(request: Request) -> None:
    """The refresh cookie's CSRF guard: a custom header (which no cross-site form or simple
    request can send) and, when the browser names one, an Origin equal to the Gateway's."""
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if request.headers.get(CSRF_HEADER) != "1" or (origin is not None and origin != own):
        raise NotAuthorized(
            "A cookie refresh must come from the Dashboard itself.", {"reason": "csrf"}
        )


async def _login_out(db: DbDep, issued: auth_service.IssuedLogin) -> LoginOut:
    return LoginOut(
        access_token=issued.access_token,
        expires_at=issued.expires_at,
        session_id=issued.session.id,
        user=await user_out(db, issued.user),
    )


@router.post("/login", operation_id="login", responses={401: {}, 429: {}})
@public
async def login(
    body: LoginIn, request: Request, response: Response, db: DbDep, gateway: GatewayDep
) -> LoginOut:
    """Email and password → a JWT bound to a new sign-in session (with `X-Sophon-Refresh:
    cookie`, also the Dashboard's refresh cookie)."""
    issued = await auth_service.login(
        db,
        gateway.auth,
        email=body.email,
        password=body.password,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    _keep_signed_in(request, response, gateway, issued)
    return await _login_out(db, issued)


@router.get("/setup", operation_id="getSetupStatus")
@public
async def setup_status(db: DbDep, gateway: GatewayDep) -> SetupStatusOut:
    """Whether the first-run setup is still due (no user exists yet), and whether this Gateway
    runs AutoAdmin (no sign-in needed)."""
    return SetupStatusOut(
        required=await auth_service.setup_required(db), auto_admin=gateway.settings.auto_admin
    )


@router.post("/setup", operation_id="setup", status_code=status.HTTP_201_CREATED)
@public
async def setup(
    body: SetupIn, request: Request, response: Response, db: DbDep, gateway: GatewayDep
) -> LoginOut:
    """Creates the first Admin with the one-time setup token from the data dir (once)."""
    issued = await auth_service.setup_first_admin(
        db,
        gateway.auth,
        setup_token_file=setup_token_path(gateway.settings),
        given=body.setup_token,
        email=str(body.email),
        password=body.password,
        display_name=body.display_name,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    _keep_signed_in(request, response, gateway, issued)
    return await _login_out(db, issued)


@router.post("/refresh", operation_id="refreshToken")
@password_pending_ok
async def refresh(principal: PrincipalDep, db: DbDep, gateway: GatewayDep) -> LoginOut:
    """A new JWT for a still-valid session; resets the idle timer."""
    return await _login_out(db, await auth_service.refresh(db, gateway.auth, principal))


@router.post("/refresh/cookie", operation_id="refreshFromCookie", responses={401: {}, 403: {}})
@public
async def refresh_from_cookie(request: Request, db: DbDep, gateway: GatewayDep) -> LoginOut:
    """The Dashboard's refresh: a new JWT for the session its httpOnly refresh cookie names
    (needs the `X-Sophon-CSRF: 1` header and a same-origin request)."""
    _same_origin(request)
    cookie = request.cookies.get(REFRESH_COOKIE)
    if not cookie:
        raise Unauthenticated("No refresh cookie: sign in.")
    issued = await auth_service.refresh_with_cookie(db, gateway.auth, cookie)
    return await _login_out(db, issued)


@router.post("/logout", operation_id="logout", status_code=status.HTTP_204_NO_CONTENT)
@password_pending_ok
async def logout(principal: PrincipalDep, db: DbDep) -> Response:
    """Revokes the current session (and clears the Dashboard's refresh cookie)."""
    await auth_service.logout(db, principal)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(
        REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, httponly=True, samesite="strict"
    )
    return response


@router.get("/me", operation_id="getMe")
@password_pending_ok
async def me(principal: PrincipalDep, db: DbDep, gateway: GatewayDep) -> MeOut:
    """The caller: user, roles, effective permissions, tenants, tier and licence features."""
    described = await me_service.describe(db, principal, gateway.settings.tier)
    described.features = await gateway.license.features(db)
    return described


@router.post("/password", operation_id="changePassword", status_code=status.HTTP_204_NO_CONTENT)
@password_pending_ok
async def change_password(body: PasswordIn, principal: PrincipalDep, db: DbDep) -> Response:
    """Changes the caller's password (the current one is required); ends their other sessions."""
    await auth_service.change_password(
        db, principal, current=body.current_password, new=body.new_password
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/sessions", operation_id="listAuthSessions")
@authenticated
async def sessions(
    principal: PrincipalDep, db: DbDep, gateway: GatewayDep, page: PageDep
) -> Page[SessionOut]:
    """The caller's live sign-in sessions."""
    rows = await auth_service.list_sessions(db, gateway.auth, principal)
    listed = [
        SessionOut(
            id=row.id,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            ip=row.ip,
            user_agent=row.user_agent,
            current=row.id == principal.session_id,
        )
        for row in rows
    ]
    scope = f"auth-sessions:{principal.user_id}"
    return page_in_memory(gateway.paginator, listed, page, scope, lambda session: session.id)


@router.delete(
    "/sessions/{session_id}",
    operation_id="revokeAuthSession",
    status_code=status.HTTP_204_NO_CONTENT,
)
@authenticated
async def revoke_session(session_id: str, principal: PrincipalDep, db: DbDep) -> Response:
    """Revokes one of the caller's own sessions."""
    await auth_service.revoke_session(db, principal, session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/tokens", operation_id="createApiToken", status_code=status.HTTP_201_CREATED)
@authenticated
async def create_token(body: TokenIn, principal: PrincipalDep, db: DbDep) -> NewTokenOut:
    """Creates an `sk_` API token; the secret is in this response only."""
    made = await auth_service.create_token(
        db,
        principal,
        name=body.name,
        expires_at=body.expires_at,
        permissions=body.permissions,
    )
    return NewTokenOut(**token_out(made.token).model_dump(), token=made.secret)


@router.get("/tokens", operation_id="listApiTokens")
@authenticated
async def list_tokens(
    principal: PrincipalDep, db: DbDep, gateway: GatewayDep, page: PageDep
) -> Page[TokenOut]:
    """The caller's API tokens (never their secrets)."""
    listed = [token_out(t) for t in await auth_service.list_tokens(db, principal)]
    scope = f"tokens:{principal.user_id}"
    return page_in_memory(gateway.paginator, listed, page, scope, lambda token: token.id)


@router.delete(
    "/tokens/{token_id}", operation_id="revokeApiToken", status_code=status.HTTP_204_NO_CONTENT
)
@authenticated
async def revoke_token(token_id: str, principal: PrincipalDep, db: DbDep) -> Response:
    """Revokes one of the caller's API tokens; it stops working at once."""
    await auth_service.revoke_token(db, principal, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
