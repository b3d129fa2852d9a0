"""GET /api/tools: the public catalog of tools, their schemas, risk and availability."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sophon.app import create_app
from sophon.runtime.sandbox import sandbox_status
from sophon.settings import Settings
from tests.conftest import serve_in_process
from tests.helpers import assert_error

BUILTIN_RISKS = {
    "code.execute": "High",
    "datetime.now": "None",
    "document.query": "None",
    "document.read": "None",
    "document.search": "None",
    "document.summarize": "None",
    "memory.forget": "High",
    "memory.forget_all": "Critical",
    "memory.read": "None",
    "memory.search": "None",
    "memory.traverse": "None",
    "memory.write": "Medium",
    "os.execute_sandboxed": "High",
    "web.fetch": "Low",
    "workflow.create": "High",
    "workflow.list": "None",
    "workflow.trigger": "Medium",
}


def by_name(response: httpx.Response) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    assert [item["name"] for item in items] == sorted(item["name"] for item in items)
    return {item["name"]: item for item in items}


async def test_the_catalog_is_public_and_lists_the_builtins(client: httpx.AsyncClient) -> None:
    tools = by_name(await client.get("/api/tools"))
    builtins = {name: t["riskLevel"] for name, t in tools.items() if t["source"] == "builtin"}
    assert builtins == BUILTIN_RISKS
    fetch = tools["web.fetch"]
    assert set(fetch) == {
        "name",
        "description",
        "parameters",
        "riskLevel",
        "source",
        "editableAtApproval",
        "available",
        "unavailableReason",
    }
    assert fetch["source"] == "builtin"
    assert fetch["parameters"]["type"] == "object"
    assert fetch["parameters"]["required"] == ["url"]
    assert set(fetch["parameters"]["properties"]) == {"url", "maxBytes"}
    assert fetch["parameters"]["additionalProperties"] is False
    assert (fetch["available"], fetch["unavailableReason"]) == (True, None)
    assert set(tools["code.execute"]["parameters"]["properties"]) == {
        "code",
        "stdin",
        "timeoutSeconds",
    }
    assert tools["os.execute_sandboxed"]["parameters"]["required"] == ["command"]
    assert tools["code.execute"]["editableAtApproval"] is True
    sandboxed = sandbox_status().available
    assert tools["code.execute"]["available"] is sandboxed


@pytest.fixture
async def host_exec_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"allow_host_exec": True}))
    async with serve_in_process(app) as http:
        yield http


async def test_enabling_host_exec_adds_os_execute_as_critical(
    host_exec_client: httpx.AsyncClient,
) -> None:
    tools = by_name(await host_exec_client.get("/api/tools"))
    builtins = {name: t["riskLevel"] for name, t in tools.items() if t["source"] == "builtin"}
    assert builtins == {
        **BUILTIN_RISKS,
        "os.execute": "Critical",
    }
    assert tools["os.execute"]["parameters"]["required"] == ["command"]


async def test_without_bwrap_the_sandboxed_tools_are_listed_as_unavailable(
    client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    tools = by_name(await client.get("/api/tools"))
    for name in ("code.execute", "os.execute_sandboxed"):
        assert tools[name]["available"] is False
        assert "bwrap" in tools[name]["unavailableReason"]
    assert tools["datetime.now"]["available"] is True


async def test_the_catalog_is_a_cursor_page(client: httpx.AsyncClient) -> None:
    whole = (await client.get("/api/tools", params={"limit": 200})).json()
    assert (whole["hasMore"], whole["nextCursor"]) == (False, None)
    names, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/tools", params=params)).json()
        assert len(page["items"]) <= 3
        names += [tool["name"] for tool in page["items"]]
        cursor = page["nextCursor"]
        assert page["hasMore"] is (cursor is not None)
        if cursor is None:
            break
    assert names == [tool["name"] for tool in whole["items"]]
    forged = await client.get("/api/tools", params={"cursor": "bm9wZQ.AAAA"})
    assert_error(forged, 400, "invalid_request")
