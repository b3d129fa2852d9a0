"""Every route declares who may call it, in one visible way: `@public` or `@requires(...)` on the
endpoint. `GuardedRoute` refuses to register an endpoint without a declaration and turns the
declaration into the dependency that enforces it (and into the OpenAPI operation)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, params
from fastapi.routing import APIRoute, _effective_route_context_var

from sophon.platform.lean_handler import Handler, lean_handler
from sophon.platform.schemas import ERROR_ENVELOPE_REF
from sophon.platform.throttle import limit_by_ip

F = TypeVar("F", bound=Callable[..., Any])
ACCESS_ATTR = "__sophon_access__"


@dataclass(frozen=True)
class Access:
    """Who may call a route. `label` shows in OpenAPI as `x-sophon-permission`; `rate` is the
    rate-limit category (`"auto"`: by method; `None`: exempt)."""

    label: str
    dependencies: tuple[params.Depends, ...] = ()
    error_statuses: tuple[int, ...] = ()
    security: list[dict[str, list[str]]] = field(default_factory=list)
    rate: str | None = "auto"
    permissions: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    """Any one of these lets the caller in (with `permissions`, all of which are needed)."""
    allow_pending_password: bool = False
    tier: str | None = None
    feature: str | None = None


def declare(access: Access) -> Callable[[F], F]:
    def mark(endpoint: F) -> F:
        setattr(endpoint, ACCESS_ATTR, access)
        return endpoint

    return mark


public = declare(Access("public", dependencies=(Depends(limit_by_ip),)))
"""Anyone may call it; limited per IP."""
unlimited = declare(Access("public", rate=None))
"""Anyone may call it, without rate limit: health, metrics, hubs, inbound webhooks."""


_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_BODIES = {"POST", "PUT", "PATCH"}


def _generic_error_statuses(path: str, methods: set[str]) -> list[int]:
    """The errors any route of this shape can answer, whatever its endpoint does: a malformed
    body, cursor or parameter (400), a path naming nothing (404), a write meeting a state
    conflict (409), a body over the size limit (413) or not JSON (415), validation (422), rate
    limits (429)."""
    statuses = [400]
    if "{" in path:
        statuses.append(404)
    if methods & _WRITES:
        statuses.append(409)
    if methods & _BODIES:
        statuses += [413, 415]
    return [*statuses, 422, 429, 500]


def _enveloped(response: dict[str, Any]) -> dict[str, Any]:
    """An error response, documented as the error envelope by reference: a `model` here would
    make FastAPI build a TypeAdapter per route and status (about 700), used only for OpenAPI."""
    return {**response, "content": {"application/json": {"schema": {"$ref": ERROR_ENVELOPE_REF}}}}


class UndeclaredAccess(RuntimeError):
    pass


class GuardedRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        access: Access | None = getattr(endpoint, ACCESS_ATTR, None)
        if access is None:
            raise UndeclaredAccess(
                f"{endpoint.__qualname__} ({path}) declares neither @public nor @requires(...)"
            )
        kwargs["dependencies"] = [*access.dependencies, *(kwargs.get("dependencies") or [])]
        responses = dict(kwargs.get("responses") or {})
        methods = {m.upper() for m in kwargs.get("methods") or ()}
        for status in (*access.error_statuses, *_generic_error_statuses(path, methods)):
            responses.setdefault(status, {})
        kwargs["responses"] = {
            status: _enveloped(response) if str(status)[0] in "45" else response
            for status, response in responses.items()
        }
        extra = dict(kwargs.get("openapi_extra") or {})
        extra["x-sophon-permission"] = access.label
        if access.security:
            extra["security"] = access.security
        kwargs["openapi_extra"] = extra
        super().__init__(path, endpoint, **kwargs)
        self.access = access

    def get_route_handler(self) -> Handler:
        # a route included through `include_router` is served with its inclusion's settings
        included = _effective_route_context_var.get() is not None
        return (None if included else lean_handler(self)) or super().get_route_handler()


def api_router(prefix: str = "", *, tags: list[str] | None = None) -> APIRouter:
    """A router for one endpoint group. The `/api` prefix is baked into each route's path (rather
    than added at include time) so metrics and logs see the full route template."""
    return APIRouter(prefix=f"/api{prefix}", tags=list(tags or []), route_class=GuardedRoute)
