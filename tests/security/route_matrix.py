"""The authorization matrix, generated from the app's route table: one operation per guarded
(method, path) pair that is not public, with a request that exercises its guard."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from sophon.platform.access import GuardedRoute
from sophon.realtime.hubs import HUBS

# Served by the framework itself: the OpenAPI document and Swagger UI's static assets.
FRAMEWORK_PUBLIC = {"/swagger/v1/swagger.json", "/swagger/assets"}
# Labels of routes open to any signed-in member (no permission named).
MEMBER_LABELS = {"authenticated", "authenticated (hub)"}
MISSING_ID = "x_nope"
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
_BODY_METHODS = {"POST", "PUT", "PATCH"}


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    label: str
    permissions: tuple[str, ...]

    @property
    def path(self) -> str:
        """The template with every parameter set to something that does not exist (a hub must
        exist to reach its guard, so hubs get a real name)."""
        return _PARAM.sub(lambda m: HUBS[0].name if m[1] == "hub" else MISSING_ID, self.template)

    @property
    def body(self) -> dict[str, object] | None:
        return {} if self.method in _BODY_METHODS else None

    def __str__(self) -> str:
        return f"{self.method} {self.template} [{self.label}]"


def guarded_routes(app: FastAPI) -> list[tuple[str, object]]:
    """Every routed path and its route object, including the framework's own."""
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
            if not (access.permissions or access.label in MEMBER_LABELS):
                problems.append(f"{path} declares {access.label!r}, not a permission")
            if not access.dependencies:
                problems.append(f"{path} declares {access.label!r} but enforces nothing")
    return problems


def operations(app: FastAPI) -> list[Operation]:
    found = []
    for path, route in guarded_routes(app):
        if not isinstance(route, GuardedRoute) or route.access.label == "public":
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            found.append(Operation(method, path, route.access.label, route.access.permissions))
    return found
