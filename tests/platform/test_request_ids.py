from __future__ import annotations

import httpx

from sophon.platform.ids import is_id


async def test_every_response_has_a_request_id(client: httpx.AsyncClient) -> None:
    ok = await client.get("/api/health")
    missing = await client.get("/api/missing")
    for response in (ok, missing):
        assert is_id(response.headers["x-sophon-request-id"], "req")
    assert ok.headers["x-sophon-request-id"] != missing.headers["x-sophon-request-id"]


async def test_well_formed_client_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nope", headers={"X-Sophon-Request-Id": "cli-42.abc:7"})
    assert response.headers["x-sophon-request-id"] == "cli-42.abc:7"
    assert response.json()["error"]["requestId"] == "cli-42.abc:7"


async def test_malformed_client_id_is_replaced(client: httpx.AsyncClient) -> None:
    for bad in ("has space", "x" * 200, "<script>", ""):
        response = await client.get("/api/health", headers={"X-Sophon-Request-Id": bad})
        assert is_id(response.headers["x-sophon-request-id"], "req"), bad
