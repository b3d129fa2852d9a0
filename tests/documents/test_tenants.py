"""Documents across tenants: another tenant's document is 404 on every route (even to that
tenant's admin, who manages documents), never found by search or listing, never attachable to a
chat turn, and the same bytes uploaded in two tenants are two documents."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sophon.settings import Settings
from tests.documents.document_helpers import DOCS, run_pipeline, upload
from tests.identity_helpers import Caller
from tests.tenants.tenant_helpers import enterprise_settings, tenant_admin

WORDS = b"The heron budget is forty thousand euros."


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return enterprise_settings(settings)


async def test_another_tenants_document_is_404_everywhere(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    acme = await tenant_admin(client, admin, "acme")
    theirs = (await upload(client, admin, [("heron.txt", WORDS)], visibility="tenant"))["items"]
    mine = (await upload(client, acme, [("mine.txt", b"The heron nests by the lake.")]))["items"]
    assert await run_pipeline(app) == ["Ready", "Ready"]
    foreign, own = theirs[0]["id"], mine[0]["id"]
    url = f"{DOCS}/{foreign}"
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", url, {}),
        ("GET", f"{url}/raw", {}),
        ("POST", f"{url}/summarize", {"json": {}}),
        ("POST", f"{url}/extract", {"json": {"schema": {"type": "object"}}}),
        ("POST", f"{DOCS}/compare", {"json": {"documentIds": [own, foreign]}}),
        ("POST", f"{DOCS}/ask", {"json": {"question": "Budget?", "documentIds": [foreign]}}),
        ("DELETE", url, {}),
        ("POST", "/api/chat", {"json": {"content": "Read it", "attachments": [foreign]}}),
    ]
    for method, path, extra in calls:
        response = await client.request(method, path, headers=acme.headers, **extra)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "not_found", (method, path)

    found = await client.get(f"{DOCS}/search", headers=acme.headers, params={"q": "heron"})
    assert [h["documentId"] for h in found.json()["items"]] == [own]
    only = await client.get(
        f"{DOCS}/search", headers=acme.headers, params={"q": "heron", "documentId": foreign}
    )
    assert only.json()["items"] == []
    listed = await client.get(DOCS, headers=acme.headers)
    assert [d["id"] for d in listed.json()["items"]] == [own]
    sessions = (await client.get("/api/sessions", headers=acme.headers)).json()["items"]
    assert sessions == []  # the refused chat stored nothing

    still = await client.get(url, headers=admin.headers)  # the DELETE above erased nothing
    assert still.status_code == 200
    assert still.json()["status"] == "Ready"


async def test_the_same_bytes_in_two_tenants_are_two_documents(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    acme = await tenant_admin(client, admin, "acme")
    first = (await upload(client, admin, [("heron.txt", WORDS)]))["items"][0]
    again = (await upload(client, acme, [("heron.txt", WORDS)]))["items"][0]
    assert again["duplicate"] is False
    assert again["id"] != first["id"]
    await run_pipeline(app)
    gone = await client.delete(f"{DOCS}/{again['id']}", headers=acme.headers)
    assert gone.status_code == 204
    raw = await client.get(f"{DOCS}/{first['id']}/raw", headers=admin.headers)
    assert raw.status_code == 200
    assert raw.content == WORDS


async def test_an_agent_of_another_tenant_is_refused_on_upload(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    acme = await tenant_admin(client, admin, "acme")
    theirs = (await client.get("/api/agents", headers=acme.headers)).json()["items"][0]["id"]
    refused = await upload(client, admin, [("a.txt", WORDS)], expect=422, agentId=theirs)
    assert refused["error"]["details"]["fields"][0]["field"] == "body.agentId"
    ours = (await client.get("/api/agents", headers=admin.headers)).json()["items"][0]["id"]
    kept = (await upload(client, admin, [("a.txt", WORDS)], agentId=ours))["items"][0]
    listed = await client.get(DOCS, headers=admin.headers, params={"agent": ours})
    assert [d["id"] for d in listed.json()["items"]] == [kept["id"]]
