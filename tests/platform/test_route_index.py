"""The route index picks the route a full scan would pick, and leaves every miss to the router."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from sophon.platform import route_index


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/api/agents/search")
    async def search() -> str:
        return "search"

    @app.get("/api/agents/{agent_id}")
    async def one(agent_id: str) -> str:
        return f"agent {agent_id}"

    @app.get("/api")
    async def root() -> str:
        return "api"

    @app.get("/hubs/{hub}")
    async def hub(hub: str) -> str:
        return f"hub {hub}"

    @app.get("/{anything}/echo")
    async def echo(anything: str) -> str:
        return f"echo {anything}"

    static = [Route("/{name}", lambda r: JSONResponse(f"file {r.path_params['name']}"))]
    app.router.routes.append(Mount("/static", routes=static))
    route_index.install(app.router)

    @app.get("/api/late")  # added after the index was built
    async def late() -> str:
        return "late"

    return app


@pytest.fixture
def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(_app()), base_url="http://t")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/agents/search", "search"),  # the literal route comes first in the table
        ("/api/agents/a1", "agent a1"),
        ("/api", "api"),
        ("/hubs/chat", "hub chat"),
        ("/x/echo", "echo x"),  # a parameter in the first segment fits any path
        ("/static/a.js", "file a.js"),
        ("/api/late", "late"),  # not indexed: found by the router's full scan
    ],
)
async def test_each_path_reaches_its_route(client: httpx.AsyncClient, path: str, body: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.json() == body


async def test_misses_answer_as_the_router_does(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/agents")).status_code == 404
    assert (await client.get("/nowhere/at/all")).status_code == 404
    wrong_method = await client.post("/api/agents/a1")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "GET"
    redirect = await client.get("/api/agents/a1/")
    assert redirect.status_code == 307
    assert redirect.headers["location"] == "http://t/api/agents/a1"
