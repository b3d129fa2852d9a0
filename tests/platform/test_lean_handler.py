"""A route of the Gateway's route class answers exactly as FastAPI's own handler does: the same
endpoints, declared on a guarded router and on a plain one, give the same status, headers and
body for every request here (dependencies with cleanup, caching, sub-response, background tasks,
parameters of every kind, JSON bodies and their errors)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import (
    APIRouter,
    BackgroundTasks,
    Cookie,
    Depends,
    FastAPI,
    Header,
    Query,
    Request,
    Response,
)
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from sophon.platform.access import GuardedRoute, unlimited
from sophon.platform.lean_handler import lean_handler
from sophon.platform.route_index import add_routes


class Item(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    item_id: str
    display_name: str | None = None
    tags: list[str] = []


class ItemIn(BaseModel):
    display_name: str
    count: int = 1


async def session(request: Request) -> AsyncIterator[str]:
    events: list[str] = request.app.state.events
    events.append("open")
    yield "session"
    events.append("close")


async def caller(
    db: Annotated[str, Depends(session)], x_caller: Annotated[str, Header()] = "anon"
) -> str:
    return f"{x_caller}@{db}"


def page(limit: Annotated[int, Query(ge=1, le=50)] = 10) -> int:  # sync: a thread hop
    return limit


async def stamped(response: Response) -> None:
    response.headers["x-stamp"] = "yes"
    response.status_code = 203


def _router(route_class: type[APIRoute], events: list[str]) -> APIRouter:
    router = APIRouter(prefix="/api", route_class=route_class)

    @router.get("/items/{item_id}", response_model_exclude_none=True)
    @unlimited
    async def get_item(
        item_id: str,
        who: Annotated[str, Depends(caller)],
        db: Annotated[str, Depends(session)],
        limit: Annotated[int, Depends(page)],
        flavour: Annotated[str | None, Cookie()] = None,
        tag: Annotated[list[str] | None, Query()] = None,
        since: int | None = None,
    ) -> Item:
        name = None if flavour is None else f"{who} {db} {limit} {flavour}"
        return Item(item_id=item_id, display_name=name, tags=tag or [])

    @router.get("/stamped", dependencies=[Depends(stamped)])
    @unlimited
    async def get_stamped() -> dict[str, str]:
        return {"ok": "stamped"}

    @router.post("/items", status_code=201)
    @unlimited
    async def create_item(body: ItemIn, tasks: BackgroundTasks) -> Item:
        tasks.add_task(events.append, f"created {body.display_name}")
        return Item(item_id="i1", display_name=body.display_name * body.count)

    @router.post("/pair")
    @unlimited
    async def pair(first: ItemIn, second: ItemIn, limit: Annotated[int, Depends(page)]) -> int:
        return first.count + second.count + limit

    @router.delete("/items/{item_id}", status_code=204)
    @unlimited
    async def delete_item(item_id: str) -> None:
        events.append(f"deleted {item_id}")

    @router.get("/raw")
    @unlimited
    async def raw() -> Response:
        return Response(b"raw", media_type="text/plain", headers={"x-raw": "1"})

    return router


def _client(route_class: type[APIRoute], events: list[str]) -> httpx.AsyncClient:
    app = FastAPI()
    app.state.events = events
    add_routes(app, _router(route_class, events))  # as the Gateway adds its routers
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t")


def test_every_route_here_takes_the_lean_handler() -> None:
    routes = _router(GuardedRoute, []).routes
    assert all(lean_handler(route) is not None for route in routes if isinstance(route, APIRoute))


REQUESTS: list[tuple[str, str, dict[str, object]]] = [
    ("GET", "/api/items/a1", {}),
    ("GET", "/api/items/a1?limit=5&tag=x&tag=y", {"headers": {"x-caller": "ann"}}),
    ("GET", "/api/items/a1", {"cookies": {"flavour": "mint"}}),
    ("GET", "/api/items/a1?limit=0", {}),
    ("GET", "/api/items/a1?limit=zero&tag=1&since=never", {}),
    ("GET", "/api/stamped", {}),
    ("POST", "/api/items", {"json": {"display_name": "ab", "count": 2}}),
    ("POST", "/api/items", {"json": {"count": "many"}}),
    (
        "POST",
        "/api/items",
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
    ),
    (
        "POST",
        "/api/items",
        {
            "content": b'{"display_name": "m"}',
            "headers": {"content-type": "application/merge-patch+json"},
        },
    ),
    (
        "POST",
        "/api/items",
        {"content": b'{"display_name": "t"}', "headers": {"content-type": "text/plain"}},
    ),
    ("POST", "/api/items", {"content": b'{"display_name": "n"}'}),
    ("POST", "/api/items", {}),
    (
        "POST",
        "/api/pair?limit=3",
        {"json": {"first": {"display_name": "a"}, "second": {"display_name": "b", "count": 4}}},
    ),
    ("POST", "/api/pair?limit=99", {"json": {"first": {"display_name": "a"}}}),
    ("DELETE", "/api/items/a1", {}),
    ("GET", "/api/raw", {}),
]


@pytest.mark.parametrize(("method", "path", "options"), REQUESTS)
async def test_answers_as_fastapi_does(method: str, path: str, options: dict[str, object]) -> None:
    guarded_events: list[str] = []
    plain_events: list[str] = []
    guarded = _client(GuardedRoute, guarded_events)
    plain = _client(APIRoute, plain_events)
    async with guarded, plain:
        for client in (guarded, plain):
            client.cookies.update(options.get("cookies") or {})  # type: ignore[arg-type]
        sent = {key: value for key, value in options.items() if key != "cookies"}
        ours = await guarded.request(method, path, **sent)  # type: ignore[arg-type]
        theirs = await plain.request(method, path, **sent)  # type: ignore[arg-type]
    assert ours.status_code == theirs.status_code
    assert ours.headers.multi_items() == theirs.headers.multi_items()
    assert ours.content == theirs.content
    assert guarded_events == plain_events
