from __future__ import annotations

import base64
import json

import httpx

from tests.helpers import assert_error


async def _add(client: httpx.AsyncClient, *keys: str) -> None:
    for key in keys:
        assert (await client.post("/api/_probe/items", params={"key": key})).status_code == 200


async def _walk(client: httpx.AsyncClient, url: str, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        body = (await client.get(url, params=params)).json()
        assert set(body) == {"items", "nextCursor", "hasMore"}
        pages.append([item["key"] for item in body["items"]])
        if not body["hasMore"]:
            assert body["nextCursor"] is None
            return pages
        cursor = body["nextCursor"]


async def test_pages_walk_every_item_once_in_order(client: httpx.AsyncClient) -> None:
    await _add(client, *(f"k{i:02d}" for i in range(7)))
    pages = await _walk(client, "/api/_probe/items", 3)
    assert pages == [["k06", "k05", "k04"], ["k03", "k02", "k01"], ["k00"]]


async def test_default_limit_is_50(client: httpx.AsyncClient) -> None:
    await _add(client, *(f"k{i:02d}" for i in range(55)))
    body = (await client.get("/api/_probe/items")).json()
    assert len(body["items"]) == 50
    assert body["hasMore"] is True


async def test_pages_are_stable_under_inserts(client: httpx.AsyncClient) -> None:
    await _add(client, "b1", "b2", "b3", "b4")
    first = (await client.get("/api/_probe/items", params={"limit": 2})).json()
    assert [i["key"] for i in first["items"]] == ["b4", "b3"]
    await _add(client, "b9", "b0")  # one sorts before the cursor, one after
    second = (
        await client.get("/api/_probe/items", params={"limit": 2, "cursor": first["nextCursor"]})
    ).json()
    assert [i["key"] for i in second["items"]] == ["b2", "b1"]


async def test_limit_out_of_range_is_422(client: httpx.AsyncClient) -> None:
    for limit in (0, 201, -1):
        response = await client.get("/api/_probe/items", params={"limit": limit})
        error = assert_error(response, 422, "validation_failed")
        assert error["details"]["fields"][0]["field"] == "query.limit"


async def test_tampered_cursor_is_400(client: httpx.AsyncClient) -> None:
    await _add(client, "a", "b", "c")
    cursor = (await client.get("/api/_probe/items", params={"limit": 1})).json()["nextCursor"]
    token, signature = cursor.split(".")
    payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    payload["k"] = ["zzz"]
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    for bad in (f"{forged}.{signature}", "garbage", cursor + "x", "....", "%%%"):
        response = await client.get("/api/_probe/items", params={"cursor": bad})
        assert_error(response, 400, "invalid_request")


async def test_cursor_from_another_list_is_400(client: httpx.AsyncClient) -> None:
    await _add(client, "a", "b", "c")
    cursor = (await client.get("/api/_probe/other", params={"limit": 1})).json()["nextCursor"]
    response = await client.get("/api/_probe/items", params={"cursor": cursor})
    assert_error(response, 400, "invalid_request")
