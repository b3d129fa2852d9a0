"""POST /api/models/providers/{id}/test against loopback servers speaking the real wire formats,
and against destinations the SSRF guard refuses before any connection."""

from __future__ import annotations

from typing import Any

import httpx

from sophon.providers.connect import ProviderRuntime
from tests.identity_helpers import Caller
from tests.llm.fakes import (
    FakeServer,
    JsonReply,
    anthropic_error,
    anthropic_message,
    openai_completion,
)
from tests.platform.loopback_http import LoopbackOnlyConnector
from tests.providers.provider_helpers import PROVIDERS, SECRET, add_provider


async def run_test(client: httpx.AsyncClient, admin: Caller, provider_id: str) -> dict[str, Any]:
    response = await client.post(f"{PROVIDERS}/{provider_id}/test", headers=admin.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_openai_on_loopback_is_allowed_by_default_and_reports_models(
    client: httpx.AsyncClient, admin: Caller, fake: FakeServer, runtime: ProviderRuntime
) -> None:
    made = await add_provider(
        client, admin, name="Ollama", type="openai", baseUrl=f"{fake.url}/v1", apiKey=SECRET
    )
    fake.script(
        "GET", "/v1/models", JsonReply({"object": "list", "data": [{"id": "m1"}, {"id": "m2"}]})
    )
    fake.script("POST", "/v1/chat/completions", JsonReply(openai_completion("ok")))
    body = await run_test(client, admin, made["id"])
    assert (body["ok"], body["models"], body["model"], body["reply"]) == (
        True,
        ["m1", "m2"],
        "m1",
        "ok",
    )
    assert (body["error"], body["status"]) == (None, "Active")
    assert isinstance(body["latencyMs"], float)
    assert fake.received("/v1/chat/completions")[0].headers["authorization"] == f"Bearer {SECRET}"
    stored = (await client.get(f"{PROVIDERS}/{made['id']}", headers=admin.headers)).json()
    assert stored["lastTestedAt"] is not None
    assert (stored["lastLatencyMs"], stored["lastError"]) == (body["latencyMs"], None)
    audit = await client.get("/api/admin/audit", headers=admin.headers)
    tests = [e for e in audit.json()["items"] if e["action"] == "provider.test"]
    assert [(e["outcome"], e["resource"]["id"]) for e in tests] == [("success", made["id"])]


async def test_anthropic_needs_loopback_listed_in_outbound_allow(
    client: httpx.AsyncClient, admin: Caller, fake: FakeServer, runtime: ProviderRuntime
) -> None:
    made = await add_provider(
        client, admin, name="Claude", type="anthropic", baseUrl=fake.url, apiKey="sk-ant-key"
    )
    refused = await run_test(client, admin, made["id"])
    assert (refused["ok"], refused["status"]) == (False, "Error")
    assert refused["error"]["code"] == "outbound_refused"
    assert fake.received("/v1/models") == []

    runtime.allow = ("127.0.0.1",)
    fake.script(
        "GET",
        "/v1/models",
        JsonReply(
            {"data": [{"type": "model", "id": "claude-a", "display_name": "A"}], "has_more": False}
        ),
    )
    fake.script(
        "POST", "/v1/messages", JsonReply(anthropic_message([{"type": "text", "text": "ok"}]))
    )
    passed = await run_test(client, admin, made["id"])
    assert (passed["ok"], passed["models"], passed["reply"], passed["status"]) == (
        True,
        ["claude-a"],
        "ok",
        "Active",
    )
    assert fake.received("/v1/messages")[0].headers["x-api-key"] == "sk-ant-key"


async def test_failures_are_reported_and_stored(
    client: httpx.AsyncClient, admin: Caller, fake: FakeServer, runtime: ProviderRuntime
) -> None:
    runtime.allow = ("127.0.0.1",)
    made = await add_provider(client, admin, name="Claude", type="anthropic", baseUrl=fake.url)
    fake.script(
        "GET",
        "/v1/models",
        JsonReply(anthropic_error("invalid x-api-key", "authentication_error"), 401),
    )
    body = await run_test(client, admin, made["id"])
    assert (body["ok"], body["status"]) == (False, "Error")
    assert body["error"] == {
        "code": "ProviderAuthError",
        "message": body["error"]["message"],
        "status": 401,
    }
    assert "invalid x-api-key" in body["error"]["message"]
    stored = (await client.get(f"{PROVIDERS}/{made['id']}", headers=admin.headers)).json()
    assert "invalid x-api-key" in stored["lastError"]


async def test_private_address_is_refused_before_any_connection(
    client: httpx.AsyncClient,
    admin: Caller,
    runtime: ProviderRuntime,
    connector: LoopbackOnlyConnector,
) -> None:
    urls = ("http://10.0.0.1/v1", "http://169.254.169.254/latest", "http://[fd00::1]:8080/v1")
    for number, url in enumerate(urls):
        made = await add_provider(
            client, admin, name=f"private{number}", type="openai", baseUrl=url
        )
        body = await run_test(client, admin, made["id"])
        assert (body["ok"], body["status"], body["models"]) == (False, "Error", [])
        assert body["error"]["code"] == "outbound_refused"
    assert connector.attempts == []


async def test_local_model_servers_can_be_disallowed(
    client: httpx.AsyncClient, admin: Caller, fake: FakeServer, runtime: ProviderRuntime
) -> None:
    runtime.allow_local = False
    made = await add_provider(client, admin, name="Ollama", type="openai", baseUrl=f"{fake.url}/v1")
    body = await run_test(client, admin, made["id"])
    assert body["error"]["code"] == "outbound_refused"
    assert fake.received("/v1/models") == []
