"""Assertions shared by the tests."""

from __future__ import annotations

from typing import Any

import httpx


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Asserts the error envelope with this status and code; returns the `error` object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details", "requestId"}, error
    assert error["code"] == code, error
    assert error["message"], error
    assert error["requestId"] == response.headers["x-sophon-request-id"]
    return error
