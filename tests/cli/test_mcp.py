"""`sophon mcp`: tokens, server registrations, and a failing server test (exit 1)."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Cli, Gateway

pytestmark = pytest.mark.slow


def test_tokens_and_servers(signed_in: Cli, gateway: Gateway) -> None:
    made = signed_in.invoke("mcp", "tokens", "create", "desktop", "--tool", "memory.*", "--json")
    assert made.code == 0, made.stderr
    token = json.loads(made.stdout)
    assert token["token"].startswith("mcp_")
    listed = json.loads(signed_in.invoke("mcp", "tokens", "list", "--json").stdout)
    assert [t["id"] for t in listed] == [token["id"]]
    assert "token" not in listed[0]
    revoked = signed_in.invoke("mcp", "tokens", "revoke", token["id"])
    assert revoked.code == 0, revoked.stderr

    response = gateway.api(
        "POST",
        "/api/mcp/servers",
        json={
            "name": "gone",
            "transport": "sse",
            "url": "http://127.0.0.1:9/sse",
            "enabled": False,
        },
    )
    assert response.status_code == 201, response.text
    servers = json.loads(signed_in.invoke("mcp", "servers", "list", "--json").stdout)
    assert [(s["name"], s["status"]) for s in servers] == [("gone", "disabled")]
    tested = signed_in.invoke("mcp", "servers", "test", "gone", "--json")
    assert tested.code == 1
    assert json.loads(tested.stdout)["ok"] is False
