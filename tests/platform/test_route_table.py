"""Default deny, proven over the whole route table: every route declares who may call it."""

from __future__ import annotations

import inspect
import re

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from sophon.app import ROUTERS, create_app
from sophon.identity.guard import authorize, principal_of
from sophon.platform import route_index
from sophon.platform.access import GuardedRoute, UndeclaredAccess, api_router
from sophon.platform.permissions import Permission
from sophon.settings import Settings

# Served by the framework itself: the OpenAPI document and Swagger UI's static assets.
FRAMEWORK_PUBLIC = {"/swagger/v1/swagger.json", "/swagger/assets"}
CATALOG = {p.value for p in Permission}
# declarations that name no permission: anyone, or any valid credential (the caller's own identity)
NOT_PERMISSIONS = {"public", "authenticated", "authenticated (hub)"}


def _routes(app: FastAPI) -> list[tuple[str, object]]:
    route_index.load_all(app.router)  # the domains' routers are otherwise built on first use
    return [
        (str(ctx.path), ctx.original_route)
        for ctx in iter_route_contexts(app.routes)
        if ctx.path is not None
    ]


def test_every_route_declares_its_access(settings: Settings) -> None:
    routes = _routes(create_app(settings))
    assert len(routes) > 20
    for path, route in routes:
        if path in FRAMEWORK_PUBLIC:
            continue
        assert isinstance(route, GuardedRoute), f"{path} bypasses the access declaration"
        label = route.access.label
        named = set(re.split(r"[,;|]", label))
        assert label in NOT_PERMISSIONS or named <= CATALOG, (
            f"{path}: {label} is not in the catalog"
        )


def test_non_public_routes_require_authentication(settings: Settings) -> None:
    for path, route in _routes(create_app(settings)):
        if isinstance(route, GuardedRoute) and route.access.label != "public":
            assert route.access.dependencies, path
            assert {401, 403} <= set(route.responses), path


def test_a_route_without_a_declaration_is_refused_at_import() -> None:
    router = api_router("/oops")

    async def naked() -> None:
        return None

    with pytest.raises(UndeclaredAccess):
        router.add_api_route("/", naked)


def test_no_endpoint_or_dependency_runs_in_a_worker_thread(settings: Settings) -> None:
    """FastAPI runs a plain `def` in its thread pool: a thread hop per call and request."""
    for path, route in _routes(create_app(settings)):
        if not isinstance(route, APIRoute):
            continue
        pending = [route.dependant]
        while pending:
            dependant = pending.pop()
            call = dependant.call
            if call is not None:
                assert inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call), (
                    f"{path}: {call.__qualname__} is a plain def"
                )
            pending.extend(dependant.dependencies)


def test_every_route_taking_the_caller_has_the_guard_that_resolves_it(
    settings: Settings,
) -> None:
    """`PrincipalDep` reads the caller the guard resolved: a route taking it without `@requires`
    (or `@authenticated`) would have none to read."""
    for path, route in _routes(create_app(settings)):
        if not isinstance(route, APIRoute):
            continue
        calls, pending = set(), [route.dependant]
        while pending:
            dependant = pending.pop()
            calls.add(dependant.call)
            pending.extend(dependant.dependencies)
        if principal_of in calls:
            assert authorize in calls, f"{path} takes the caller but declares no guard"


async def test_openapi_names_each_operations_permission(client) -> None:  # type: ignore[no-untyped-def]
    spec = (await client.get("/swagger/v1/swagger.json")).json()
    operations = [op for item in spec["paths"].values() for op in item.values()]
    assert all("x-sophon-permission" in op for op in operations)
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    create_user = spec["paths"]["/api/admin/users"]["post"]
    assert create_user["x-sophon-permission"] == "ManageUsers"
    assert create_user["security"] == [{"bearer": []}]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_each_domain_router_lies_under_its_declared_prefix(settings: Settings) -> None:
    """A deferred router is built on the first request under its prefix: a route outside the
    prefix would answer 404 until some other request happened to build its router."""
    app = create_app(settings)
    stand_ins = route_index.deferred_routers(app.router)
    assert len(stand_ins) == len(ROUTERS)
    for stand_in in stand_ins:
        paths = [getattr(route, "path", "") for route in stand_in.build()]
        assert paths, stand_in.target
        assert all(stand_in.covers(path) for path in paths), (stand_in.path, paths)


async def test_a_request_builds_only_the_routers_under_its_path(app: FastAPI, client) -> None:  # type: ignore[no-untyped-def]
    router = app.router
    before = {d.target for d in route_index.deferred_routers(router)}
    assert (await client.get("/api/admin/roles")).status_code == 401
    after = {d.target for d in route_index.deferred_routers(router)}
    assert before - after == {"sophon.identity.roles.router:router"}
    assert (await client.post("/api/admin/roles")).status_code == 401  # built once, still routed
