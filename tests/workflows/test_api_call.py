"""`action.api_call` goes through the SSRF-guarded client: a private address is refused unless
the outbound allow-list names it; secret headers are masked in the node record."""

from __future__ import annotations

import httpx
import pytest

from sophon.settings import Settings
from tests.identity_helpers import Caller
from tests.llm.fakes import FakeServer
from tests.workflows.wf_helpers import by_node, chain, create_approved, trigger, wait_run


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"outbound_allow": "127.0.0.1"})


async def test_api_calls_are_guarded_and_mask_secrets(
    client: httpx.AsyncClient, admin: Caller, fake_server: FakeServer
) -> None:
    call = {
        "id": "get",
        "type": "action.api_call",
        "config": {"url": "{{ $input.url }}", "headers": {"Authorization": "Bearer s3cret"}},
    }
    workflow = await create_approved(client, admin, chain(call))
    fake_server.reset()
    started = await trigger(client, admin, workflow["id"], {"url": f"{fake_server.url}/v1/models"})
    run = await wait_run(client, admin, workflow["id"], started["runId"])
    assert run["status"] == "Completed", run
    record = by_node(run)["get"]
    assert record["output"]["status"] == 200
    assert record["output"]["body"]["object"] == "list"
    assert record["input"]["headers"] == {"Authorization": "••••••"}
    assert "s3cret" not in str(run)
    assert fake_server.received("/v1/models")[0].headers["authorization"] == "Bearer s3cret"
    for url, code in (
        ("http://10.1.2.3/x", "request_failed"),
        (f"{fake_server.url}/nowhere", "http_error"),
    ):
        started = await trigger(client, admin, workflow["id"], {"url": url})
        run = await wait_run(client, admin, workflow["id"], started["runId"])
        assert run["status"] == "Failed"
        assert run["error"]["code"] == code


async def test_secrets_come_from_the_vault_and_never_reach_a_record(
    client: httpx.AsyncClient, admin: Caller, fake_server: FakeServer
) -> None:
    call = {
        "id": "get",
        "type": "action.api_call",
        "config": {
            "url": f"{fake_server.url}/v1/models",
            "headers": {"X-Token": "{{ $secrets.TOKEN }}"},
        },
    }
    leak = {"id": "leak", "type": "data.transform", "config": {"output": "t={{ $secrets.TOKEN }}"}}
    workflow = await create_approved(client, admin, chain(call, leak))
    path = f"/api/workflows/{workflow['id']}/secrets"
    bad = await client.put(path, headers=admin.headers, json={"secrets": {"no way": "x"}})
    assert bad.status_code == 422
    saved = await client.put(path, headers=admin.headers, json={"secrets": {"TOKEN": "tok-987654"}})
    assert saved.status_code == 200, saved.text
    assert saved.json()["secretNames"] == ["TOKEN"]
    assert "tok-987654" not in saved.text
    fake_server.reset()
    started = await trigger(client, admin, workflow["id"])
    run = await wait_run(client, admin, workflow["id"], started["runId"])
    assert run["status"] == "Completed", run
    assert fake_server.received("/v1/models")[0].headers["x-token"] == "tok-987654"
    assert by_node(run)["leak"]["output"] == "t=••••••"
    assert "tok-987654" not in str(run)
    removed = await client.put(path, headers=admin.headers, json={"secrets": {"TOKEN": None}})
    assert removed.json()["secretNames"] == []
