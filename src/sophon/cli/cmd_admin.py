"""`sophon admin users|roles|tenants|audit …` over the admin API (`admin create-user`, which works
on the local database, lives in main)."""

from __future__ import annotations

import sys
from typing import Annotated, Any
from urllib.parse import quote

import typer

from sophon.cli.core import new_app
from sophon.cli.errors import EXIT_USAGE, CliError, fail
from sophon.cli.listing import AllOpt, CursorOpt, LimitOpt, show_page
from sophon.cli.runtime import runtime

app = new_app("Administration.")
users_app = new_app("Members of the current tenant.")
roles_app = new_app("Roles and their permissions.")
tenants_app = new_app("Tenants (from the default tenant).")
audit_app = new_app("The audit log.")
app.add_typer(users_app, name="users")
app.add_typer(roles_app, name="roles")
app.add_typer(tenants_app, name="tenants")
app.add_typer(audit_app, name="audit")

USER_COLUMNS = [
    ("id", "id"),
    ("email", "email"),
    ("name", "displayName"),
    ("status", "status"),
    ("roles", "roles"),
    ("last login", "lastLoginAt"),
]


def _user_path(ref: str) -> str:
    if "@" not in ref:
        return f"/api/admin/users/{quote(ref, safe='')}"
    wanted = ref.strip().lower()
    for page in runtime().api.pages("/api/admin/users", limit=200):
        for user in page.items:
            if user["email"].lower() == wanted:
                return f"/api/admin/users/{quote(user['id'], safe='')}"
    raise CliError(f"no user with email {ref!r} in this tenant")


@users_app.command("list")
def users_list(limit: LimitOpt = 50, cursor: CursorOpt = None, everything: AllOpt = False) -> None:
    """Members of the current tenant."""
    show_page("/api/admin/users", USER_COLUMNS, limit=limit, cursor=cursor, everything=everything)


@users_app.command("show")
def users_show(user: Annotated[str, typer.Argument(help="User id or email.")]) -> None:
    """One member."""
    rt = runtime()
    rt.out.record(rt.api.get(_user_path(user)), [*USER_COLUMNS, ("created", "createdAt")])


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option()],
    display_name: Annotated[str | None, typer.Option(help="Default: from the email.")] = None,
    role: Annotated[list[str] | None, typer.Option(help="Role name; repeat for several.")] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from stdin; else generated."),
    ] = False,
) -> None:
    """Add a member; without a password the Gateway generates a one-time one and shows it once."""
    rt = runtime()
    body: dict[str, Any] = {
        "email": email,
        "displayName": display_name or email.split("@")[0],
        "roles": role or [],
    }
    if password_stdin:
        body["password"] = sys.stdin.readline().rstrip("\r\n")
        if not body["password"]:
            fail("no password on stdin", EXIT_USAGE)
    made = rt.api.post("/api/admin/users", json=body)
    rt.out.record(made, [*USER_COLUMNS, ("initial password", "initialPassword")])


@users_app.command("delete")
def users_delete(user: Annotated[str, typer.Argument(help="User id or email.")]) -> None:
    """Remove a member."""
    rt = runtime()
    path = _user_path(user)
    rt.api.delete(path)
    rt.out.done(f"Deleted user {user}", {"deleted": path.rsplit("/", 1)[1]})


@roles_app.command("list")
def roles_list(limit: LimitOpt = 50, cursor: CursorOpt = None, everything: AllOpt = False) -> None:
    """Built-in and custom roles."""
    show_page(
        "/api/admin/roles",
        [("id", "id"), ("name", "name"), ("built-in", "builtin"), ("permissions", "permissions")],
        limit=limit,
        cursor=cursor,
        everything=everything,
    )


@tenants_app.command("list")
def tenants_list(
    limit: LimitOpt = 50, cursor: CursorOpt = None, everything: AllOpt = False
) -> None:
    """Every tenant of this Gateway."""
    show_page(
        "/api/admin/tenants",
        [("id", "id"), ("slug", "slug"), ("name", "name"), ("status", "status"),
         ("tier", "tierOverride"), ("created", "createdAt")],
        limit=limit, cursor=cursor, everything=everything,
    )  # fmt: skip


@audit_app.command("list")
def audit_list(
    limit: LimitOpt = 50,
    cursor: CursorOpt = None,
    everything: AllOpt = False,
    actor: Annotated[str | None, typer.Option(help="User id or email.")] = None,
    action: Annotated[str | None, typer.Option(help="Action or prefix, e.g. `auth.`.")] = None,
    outcome: Annotated[str | None, typer.Option()] = None,
    since: Annotated[str | None, typer.Option(help="ISO 8601 time.")] = None,
    until: Annotated[str | None, typer.Option(help="ISO 8601 time.")] = None,
) -> None:
    """Audit entries of the current tenant, newest first."""
    show_page(
        "/api/admin/audit",
        [
            ("time", "timestamp"),
            ("actor", "actor.email"),
            ("action", "action"),
            ("resource", "resource.id"),  # its prefix names the type; --json has the rest
            ("outcome", "outcome"),
        ],
        limit=limit,
        cursor=cursor,
        everything=everything,
        params={"actor": actor, "action": action, "outcome": outcome, "since": since,
                "until": until},
    )  # fmt: skip


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the tenant's hash chain; exit 1 when a link is broken."""
    rt = runtime()
    report = rt.api.get("/api/admin/audit/verify", timeout=300.0)
    rt.out.record(report)
    if not report.get("ok"):
        raise typer.Exit(1)
