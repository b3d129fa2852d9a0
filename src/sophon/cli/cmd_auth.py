"""`sophon login`, `logout`, `whoami`."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from sophon.cli.client import ApiError
from sophon.cli.errors import EXIT_AUTH, EXIT_USAGE, fail
from sophon.cli.runtime import runtime


def _describe(me: dict[str, Any]) -> str:
    user, roles = me["user"], ", ".join(me.get("roles") or []) or "no roles"
    return f"{user['email']} ({roles}) in tenant {me['tenant']['slug']}"


def _may(me: dict[str, Any]) -> str:
    """What the credential may do: a token's subset of its user's rights, not the roles'."""
    return ", ".join(me.get("permissions") or []) or "nothing but manage itself"


def login(
    email: Annotated[str | None, typer.Option(help="Prompted for when omitted.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (scripts).")
    ] = False,
    token: Annotated[
        str | None, typer.Option(help="Use an API token (sk_…) instead of a password.")
    ] = None,
) -> None:
    """Sign in and store the token in cli.json (mode 0600)."""
    rt = runtime()
    if token:
        if email or password_stdin:
            fail("--token cannot be combined with --email or --password-stdin", EXIT_USAGE)
        me = rt.api.get("/api/auth/me", token=token)
        rt.save_login(token, None)
        rt.out.done(
            f"Signed in to {rt.gateway_url} as {_describe(me)}\nThis token may: {_may(me)}", me
        )
        return
    email = email or typer.prompt("Email")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True)
    if not password:
        fail("a password is required", EXIT_USAGE)
    issued = rt.api.post("/api/auth/login", json={"email": email, "password": password})
    rt.save_login(issued["accessToken"], issued.get("expiresAt"))
    user = issued["user"]
    roles = ", ".join(user.get("roles") or []) or "no roles"
    rt.out.done(
        f"Signed in to {rt.gateway_url} as {user['email']} ({roles})",
        {k: v for k, v in issued.items() if k != "accessToken"},
    )
    if user.get("mustChangePassword"):
        rt.out.note("This account must change its password before it can do anything else.")


def logout() -> None:
    """End this sign-in session on the Gateway and forget the stored token."""
    rt = runtime()
    token = rt.config.get("authToken")
    if not token:
        rt.out.done("Not signed in.", {"signedOut": False})
        return
    if not str(token).startswith("sk_"):
        try:
            rt.api.post("/api/auth/logout")
        except ApiError as exc:
            if exc.exit_code != EXIT_AUTH:  # an expired session is signed out already
                raise
    rt.forget_login()
    rt.out.done(f"Signed out of {rt.gateway_url}.", {"signedOut": True})


def whoami() -> None:
    """Who the stored credential signs in as."""
    rt = runtime()
    me = rt.api.get("/api/auth/me")
    if rt.format == "json":
        rt.out.raw_json(me)
    else:
        rt.out.record({**me, "_gateway": rt.gateway_url}, _WHOAMI)


_WHOAMI = [
    ("email", "user.email"),
    ("name", "user.displayName"),
    ("id", "user.id"),
    ("roles", "roles"),
    ("permissions", "permissions"),
    ("tenant", "tenant.slug"),
    ("tier", "tier"),
    ("auth", "authMethod"),
    ("gateway", "_gateway"),
]


def register(app: typer.Typer) -> None:
    app.command()(login)
    app.command()(logout)
    app.command()(whoami)
