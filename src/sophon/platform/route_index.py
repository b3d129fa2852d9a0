"""Routing by index: a request is matched against the few routes whose path could fit it (the
first two path segments decide), not against every route of the app in turn.

Starlette and FastAPI try routes one by one, and FastAPI 0.165 wraps every included router, so
reaching a route late in the table cost hundreds of microseconds per request. The index keeps
the table's order and meaning: among the candidates it picks the first full match, which is the
route a full scan would pick, because no other route can fully match that path. When no candidate
matches fully, the router's own full scan runs and answers as before (405 for a known path with
another method, slash redirects, 404)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute, Match, Mount, Router
from starlette.types import ASGIApp, Receive, Scope, Send

Key = tuple[str | None, str | None]
"""A route's first two path segments; None where a parameter (or a mount's tail) takes any."""


def _key(route: BaseRoute) -> Key:
    path: str | None = getattr(route, "path", None)
    if path is None:  # e.g. a Host route: it may match any path
        return None, None
    mount = isinstance(route, Mount)
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
        keyed = [(_key(route), route) for route in router.routes]
        pairs = {key for key, _ in keyed if key[0] is not None and key[1] is not None}
        firsts = {key[0] for key, _ in keyed if key[0] is not None}
        self._by_pair = {pair: _select(keyed, *pair) for pair in pairs}
        # for a path whose second segment no route names literally
        self._by_first = {first: _select(keyed, first, None) for first in firsts}
        self._anywhere = _select(keyed, None, None)

    def candidates(self, path: str) -> list[BaseRoute]:
        first, second = _path_key(path)
        found = self._by_pair.get((first, second))
        if found is None:
            found = self._by_first.get(first, self._anywhere)
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # under a root path, Starlette matches a shortened path: leave that to the router
        if scope["type"] in ("http", "websocket") and not scope.get("root_path"):
            for route in self.candidates(scope["path"]):
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


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """Adds a router's routes to the app as they are: each already carries its full path and
    access declaration. `include_router` would wrap the router in a layer FastAPI walks on every
    request, and the index could not see the routes inside."""
    app.router.routes.extend(router.routes)
