"""Routing by index: a request is matched against the few routes whose path could fit it (the
first two path segments decide), not against every route of the app in turn.

Starlette and FastAPI try routes one by one, and FastAPI 0.165 wraps every included router, so
reaching a route late in the table cost hundreds of microseconds per request. The index keeps
the table's order and meaning: among the candidates it picks the first full match, which is the
route a full scan would pick, because no other route can fully match that path. When no candidate
matches fully, the router's own full scan runs and answers as before (405 for a known path with
another method, slash redirects, 404).

Routers are built on first use: `defer_router` puts a stand-in for a whole router in the table,
and the first request under its prefix imports the router's module (with its schemas and
services) and puts its routes in the stand-in's place. Importing and building all ~200 routes
was about a third of the Gateway's start-up. Whatever must see every route (the OpenAPI
document, route-table tests) calls `load_all` first."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute, Match, Mount, Router
from starlette.types import ASGIApp, Receive, Scope, Send

Key = tuple[str | None, str | None]
"""A route's first two path segments; None where a parameter (or a mount's tail) takes any."""


class DeferredRouter(BaseRoute):
    """Stands in the route table for the routes of `target` ("module:attribute", an APIRouter
    whose routes all lie under `prefix`) until a request under `prefix` needs them."""

    def __init__(self, prefix: str, target: str) -> None:
        self.path = prefix
        self.target = target

    def covers(self, path: str) -> bool:
        return path == self.path or path.startswith(self.path + "/")

    def build(self) -> list[BaseRoute]:
        module, _, attribute = self.target.partition(":")
        router: APIRouter = getattr(importlib.import_module(module), attribute)
        return list(router.routes)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError(f"{self.target} was not loaded before its route was handled")


def _key(route: BaseRoute) -> Key:
    path: str | None = getattr(route, "path", None)
    if path is None:  # e.g. a Host route: it may match any path
        return None, None
    mount = isinstance(route, Mount | DeferredRouter)
    segments: list[str | None] = list(path.split("/")[1:3])
    if "{" in (segments[0] or ""):
        return None, None
    while len(segments) < 2:  # a mount takes any tail; a route's path simply ends
        segments.append(None if mount else "")
    first, second = segments
    return first, None if second is None or "{" in second else second


def _path_key(path: str) -> tuple[str, str]:
    first, _, rest = path[1:].partition("/")
    return first, rest.partition("/")[0]


def _select(
    keyed: Sequence[tuple[Key, BaseRoute]], first: str | None, second: str | None
) -> list[BaseRoute]:
    """The routes, in order, that may match a path starting with `first`/`second` (None: a
    segment no route names literally)."""
    return [route for key, route in keyed if key[0] in (None, first) and key[1] in (None, second)]


class RouteIndex:
    """The router's entry point: the index first, the router's full scan when it finds nothing.
    Built from the routes the router has when installed; routes added later are still found by
    the full scan."""

    def __init__(self, router: Router, fallback: ASGIApp) -> None:
        self.router = router
        self.fallback = fallback
        self.rebuild()

    def rebuild(self) -> None:
        router = self.router
        keyed = [(_key(route), route) for route in router.routes]
        pairs = {key for key, _ in keyed if key[0] is not None and key[1] is not None}
        firsts = {key[0] for key, _ in keyed if key[0] is not None}
        self._by_pair = {pair: _select(keyed, *pair) for pair in pairs}
        # for a path whose second segment no route names literally
        self._by_first = {first: _select(keyed, first, None) for first in firsts}
        self._anywhere = _select(keyed, None, None)
        self._deferred = any(isinstance(route, DeferredRouter) for route in router.routes)

    def candidates(self, path: str) -> list[BaseRoute]:
        first, second = _path_key(path)
        found = self._by_pair.get((first, second))
        if found is None:
            found = self._by_first.get(first, self._anywhere)
        return found

    async def _load(self, deferred: list[DeferredRouter]) -> None:
        """Imports the routers (off the event loop: a module takes tens of milliseconds) and
        puts their routes where their stand-ins were, so the table keeps its order."""
        built = await asyncio.gather(*(asyncio.to_thread(d.build) for d in deferred))
        for stand_in, routes in zip(deferred, built, strict=True):
            _replace(self.router, stand_in, routes)
        self.rebuild()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.fallback(scope, receive, send)
            return
        if scope.get("root_path"):
            # Starlette matches a shortened path there: build every router, leave it the match
            if self._deferred:
                await self._load(deferred_routers(self.router))
            await self.fallback(scope, receive, send)
            return
        path = scope["path"]
        candidates = self.candidates(path)
        if self._deferred:
            needed = [r for r in candidates if isinstance(r, DeferredRouter) and r.covers(path)]
            if needed:
                await self._load(needed)
                candidates = self.candidates(path)
        for route in candidates:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope.setdefault("router", self.router)
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
        await self.fallback(scope, receive, send)


def install(router: Router) -> RouteIndex:
    """Puts an index in front of `router` (call it once every route is added)."""
    index = RouteIndex(router, router.middleware_stack)
    router.middleware_stack = index
    return index


def _replace(router: Router, stand_in: DeferredRouter, routes: list[BaseRoute]) -> None:
    """Puts `routes` where `stand_in` is (unless a concurrent request already did)."""
    for at, route in enumerate(router.routes):
        if route is stand_in:
            router.routes[at : at + 1] = routes
            return


def deferred_routers(router: Router) -> list[DeferredRouter]:
    return [route for route in router.routes if isinstance(route, DeferredRouter)]


def defer_router(app: FastAPI, prefix: str, target: str) -> None:
    """Adds the routes of `target` ("module:attribute", an APIRouter whose routes all lie under
    `prefix`), built on the first request under `prefix`."""
    app.router.routes.append(DeferredRouter(prefix, target))


def load_all(router: Router) -> None:
    """Builds every deferred router now (for whatever must see every route)."""
    for stand_in in deferred_routers(router):
        _replace(router, stand_in, stand_in.build())
    index = router.middleware_stack
    if isinstance(index, RouteIndex):
        index.rebuild()


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """Adds a router's routes to the app as they are: each already carries its full path and
    access declaration. `include_router` would wrap the router in a layer FastAPI walks on every
    request, and the index could not see the routes inside."""
    app.router.routes.extend(router.routes)
