"""The built-in roles after issue 16: a Viewer reads every resource but cannot chat or write; a
Member uses the product (chat, own memories) without reading users or deciding approvals."""

from __future__ import annotations

import httpx

from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user

READS = ("/api/agents", "/api/models", "/api/memory/entries", "/api/tasks/active")


def _missing(response: httpx.Response, permission: str) -> None:
    assert assert_error(response, 403, "not_authorized")["details"]["permission"] == permission


async def test_a_viewer_reads_but_cannot_chat_or_write(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    viewer = await add_user(client, admin, "viewer@example.com", ["Viewer"])
    for path in (*READS, "/api/admin/users"):
        response = await client.get(path, headers=viewer.headers)
        assert response.status_code == 200, f"{path}: {response.text}"
    _missing(
        await client.post("/api/chat", headers=viewer.headers, json={"content": "hi"}), "UseChat"
    )
    saved = await client.post("/api/memory/entries", headers=viewer.headers, json={"content": "x"})
    _missing(saved, "EditMemory")
    _missing(
        await client.post("/api/approvals/apr_x/approve", headers=viewer.headers), "ApproveActions"
    )
    assert (await client.get("/api/sessions", headers=admin.headers)).json()["items"] == []
    entries = await client.get("/api/memory/entries", headers=admin.headers)
    assert entries.json()["items"] == []


async def test_a_member_uses_the_product_and_nothing_more(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    member = await add_user(client, admin, "member@example.com", ["Member"])
    me = (await client.get("/api/auth/me", headers=member.headers)).json()
    assert me["permissions"] == ["EditMemory", "UseChat", "ViewAgents", "ViewMemory", "ViewModels"]
    for path in READS:
        response = await client.get(path, headers=member.headers)
        assert response.status_code == 200, f"{path}: {response.text}"
    sent = await client.post("/api/chat", headers=member.headers, json={"content": "hi"})
    assert sent.status_code == 202, sent.text
    saved = await client.post("/api/memory/entries", headers=member.headers, json={"content": "x"})
    assert saved.status_code == 201, saved.text
    _missing(await client.get("/api/admin/users", headers=member.headers), "ViewUsers")
    _missing(
        await client.post("/api/approvals/apr_x/approve", headers=member.headers), "ApproveActions"
    )


async def test_a_user_without_roles_only_manages_their_own_credentials(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    nobody = await add_user(client, admin, "nobody@example.com", [])
    assert (await client.get("/api/auth/me", headers=nobody.headers)).json()["permissions"] == []
    assert (await client.get("/api/auth/tokens", headers=nobody.headers)).status_code == 200
    _missing(await client.get("/api/agents", headers=nobody.headers), "ViewAgents")
    _missing(
        await client.post("/api/chat", headers=nobody.headers, json={"content": "hi"}), "UseChat"
    )
