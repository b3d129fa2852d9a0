"""Every error, whatever raised it, leaves in the one envelope with the reference's code."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import assert_error
from tests.identity_helpers import Caller


async def test_unknown_route_is_404_envelope(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/no-such-thing"), 404, "not_found")


async def test_wrong_method_is_405_envelope(client: httpx.AsyncClient) -> None:
    assert_error(await client.delete("/api/health"), 405, "method_not_allowed")


async def test_malformed_json_is_400_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/_probe/echo", content=b'{"name": "x", ', headers={"content-type": "application/json"}
    )
    error = assert_error(response, 400, "invalid_request")
    assert "JSON" in error["message"]


async def test_schema_violation_is_422_naming_each_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/_probe/echo", json={"name": "", "count": -1, "extra": 1})
    error = assert_error(response, 422, "validation_failed")
    fields = {f["field"] for f in error["details"]["fields"]}
    assert fields == {"body.name", "body.count", "body.extra"}


async def test_missing_body_is_422(client: httpx.AsyncClient) -> None:
    error = assert_error(await client.post("/api/_probe/echo"), 422, "validation_failed")
    assert error["details"]["fields"][0]["field"] == "body"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"name=x&count=2", "application/x-www-form-urlencoded"),  # what `curl -d` sends
        (b'{"name": "x", "count": 2}', "text/plain"),
        (b'{"name": "x", "count": 2}', None),
    ],
)
async def test_body_not_sent_as_json_is_415_naming_the_type(
    client: httpx.AsyncClient, content: bytes, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post("/api/_probe/echo", content=content, headers=headers)
    error = assert_error(response, 415, "unsupported_media_type")
    assert "application/json" in error["message"]
    assert error["details"] == {"expected": "application/json", "received": content_type}


async def test_json_subtype_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/_probe/echo",
        content=b'{"name": "x", "count": 2}',
        headers={"content-type": "application/merge-patch+json; charset=utf-8"},
    )
    assert response.status_code == 200, response.text


async def test_create_with_form_body_is_415_and_writes_nothing(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    before = (await client.get("/api/agents", headers=admin.headers)).json()["items"]
    response = await client.post(
        "/api/agents", headers=admin.headers, data={"name": "Form Agent", "model": "echo"}
    )
    assert_error(response, 415, "unsupported_media_type")
    after = (await client.get("/api/agents", headers=admin.headers)).json()["items"]
    assert after == before


async def test_valid_body_passes_through(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/_probe/echo", json={"name": "x", "count": 2})
    assert response.status_code == 200
    assert response.json() == {"name": "x", "count": 2}


async def test_body_over_limit_is_413_by_content_length(client: httpx.AsyncClient) -> None:
    big = b'{"name": "' + b"x" * 4096 + b'", "count": 1}'
    response = await client.post(
        "/api/_probe/echo", content=big, headers={"content-type": "application/json"}
    )
    error = assert_error(response, 413, "payload_too_large")
    assert error["details"]["limitBytes"] == 2048


async def test_streamed_body_over_limit_is_413(client: httpx.AsyncClient) -> None:
    async def chunks():  # no Content-Length: the limit is enforced while streaming
        yield b'{"name": "'
        for _ in range(10):
            yield b"x" * 512
        yield b'", "count": 1}'

    response = await client.post(
        "/api/_probe/echo", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_error(response, 413, "payload_too_large")


async def test_unexpected_exception_is_500_without_internals(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("ERROR", logger="sophon.errors"):
        response = await client.get("/api/_probe/boom")
    error = assert_error(response, 500, "internal_error")
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert error["details"] == {}
    logged = [r for r in caplog.records if r.exc_info]
    assert logged
    assert "hunter2" in str(logged[0].exc_info[1])


async def test_fastapi_default_shapes_never_leak(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/api/nope"),
        await client.post("/api/_probe/echo", json={}),
        await client.get("/api/_probe/items?limit=abc"),
    ):
        assert "detail" not in response.json()
