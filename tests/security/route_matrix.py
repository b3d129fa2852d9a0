"""The authorization matrix, generated from the app's route table: one operation per guarded
(method, path) pair that is not public (per hub, for the hub routes), with a request that
exercises its guard."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from sophon.platform import route_index
from sophon.platform.access import GuardedRoute
from sophon.realtime.hubs import HUBS

# Served by the framework itself: the OpenAPI document and Swagger UI's static assets.
FRAMEWORK_PUBLIC = {"/swagger/v1/swagger.json", "/swagger/assets"}
# Labels of routes open to any signed-in member (no permission named).
MEMBER_LABELS = {"authenticated", "authenticated (hub)"}
# The only operations any valid credential may call: the caller's own identity, and their own
# notices. Everything else names a permission, so that a token's subset binds on it.
CREDENTIAL_ONLY = {
    "POST /api/auth/refresh",
    "POST /api/auth/logout",
    "GET /api/auth/me",
    "POST /api/auth/password",
    "GET /api/auth/sessions",
    "DELETE /api/auth/sessions/{session_id}",
    "POST /api/auth/tokens",
    "GET /api/auth/tokens",
    "DELETE /api/auth/tokens/{token_id}",
    "POST /hubs/notifications/negotiate",
    "GET /hubs/notifications",
    "POST /hubs/notifications",
    "DELETE /hubs/notifications",
}
MISSING_ID = "x_nope"
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
_BODY_METHODS = {"POST", "PUT", "PATCH"}


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    label: str
    permissions: tuple[str, ...]
    any_of: tuple[str, ...] = ()
    hub: str | None = None

    @property
    def path(self) -> str:
        """The template with every parameter set to something that does not exist (a hub must
        exist to reach its guard, so hubs get their real names)."""
        return _PARAM.sub(lambda m: str(self.hub) if m[1] == "hub" else MISSING_ID, self.template)

    @property
    def name(self) -> str:
        """`METHOD /path`, with the hub named: how `CREDENTIAL_ONLY` lists it."""
        return f"{self.method} {_PARAM.sub(lambda m: self.hub or m[0], self.template)}"

    def admits(self, permission: str) -> bool:
        """Whether a credential holding only `permission` passes this operation's guard."""
        if any(p != permission for p in self.permissions):
            return False
        return not self.any_of or permission in self.any_of

    @property
    def body(self) -> dict[str, object] | None:
        return {} if self.method in _BODY_METHODS else None

    def __str__(self) -> str:
        return f"{self.name} [{self.label}]"


def guarded_routes(app: FastAPI) -> list[tuple[str, object]]:
    """Every routed path and its route object, including the framework's own."""
    route_index.load_all(app.router)  # the domains' routers are otherwise built on first use
    return [
        (str(ctx.path), ctx.original_route)
        for ctx in iter_route_contexts(app.routes)
        if ctx.path is not None
    ]


def declaration_problems(app: FastAPI) -> list[str]:
    """Routes that escape the matrix: not guarded, unlabelled, or non-public with neither a
    permission nor a member-wide label, or with nothing enforcing the declaration."""
    problems = []
    for path, route in guarded_routes(app):
        if path in FRAMEWORK_PUBLIC:
            continue
        if not isinstance(route, GuardedRoute):
            problems.append(f"{path} bypasses the access declaration")
            continue
        access = route.access
        if not access.label:
            problems.append(f"{path} has an empty access label")
        elif access.label != "public":
            if not (access.permissions or access.any_of or access.label in MEMBER_LABELS):
                problems.append(f"{path} declares {access.label!r}, not a permission")
            if not access.dependencies:
                problems.append(f"{path} declares {access.label!r} but enforces nothing")
    return problems


def operations(app: FastAPI) -> list[Operation]:
    found = []
    for path, route in guarded_routes(app):
        if not isinstance(route, GuardedRoute) or route.access.label == "public":
            continue
        access = route.access
        for method in sorted((route.methods or set()) - {"HEAD"}):
            if "{hub}" not in path:
                found.append(
                    Operation(method, path, access.label, access.permissions, access.any_of)
                )
                continue
            for hub in HUBS:  # one route, a permission per hub
                any_of = tuple(p.value for p in hub.requires)
                label = "|".join(any_of) or access.label
                found.append(Operation(method, path, label, (), any_of, hub.name))
    return found
