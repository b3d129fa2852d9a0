"""The tenant's daily token budget (set by an Admin of the default tenant on the tenant, on
Enterprise): a workflow's model nodes record their tokens as `workflow` usage on the run's task
and count toward it; a run with model nodes is refused (429, nothing written) once it is used up,
and a model node that finds it used up fails the run."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sophon.gateway import Gateway
from sophon.settings import Settings
from sophon.tools.invoke import ToolContext, run_tool
from tests.agents.agent_helpers import default_agent
from tests.identity_helpers import Caller
from tests.llm.fakes import FakeServer, JsonReply, openai_completion
from tests.tier_fixtures import authority, enterprise
from tests.workflows.wf_helpers import by_node, chain, create, transform, trigger, wait_run

__all__ = ["authority", "enterprise"]
COMPLETIONS = "/v1/chat/completions"
TENANTS = "/api/admin/tenants"


@pytest.fixture
def settings(settings: Settings, enterprise: dict[str, Any]) -> Settings:
    return settings.model_copy(update=enterprise)


def ask(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "action.llm_prompt", "config": {"prompt": "Say hi"}}


async def default_tenant(client: httpx.AsyncClient, admin: Caller) -> dict[str, Any]:
    listed = (await client.get(TENANTS, headers=admin.headers)).json()["items"]
    found: dict[str, Any] = next(t for t in listed if t["slug"] == "default")
    return found


async def set_budget(
    client: httpx.AsyncClient, admin: Caller, tenant_id: str, daily: int | None
) -> dict[str, Any]:
    response = await client.patch(
        f"{TENANTS}/{tenant_id}", headers=admin.headers, json={"budget": {"dailyTokens": daily}}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def task_count(client: httpx.AsyncClient, admin: Caller) -> int:
    count = 0
    for which in ("active", "history"):
        response = await client.get(f"/api/tasks/{which}", headers=admin.headers)
        count += len(response.json()["items"])
    return count


async def test_an_admin_sets_and_clears_the_tenants_daily_budget(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    tenant = await default_tenant(client, admin)
    assert tenant["budget"] == {"dailyTokens": None}
    assert (await set_budget(client, admin, tenant["id"], 500))["budget"]["dailyTokens"] == 500
    assert (await default_tenant(client, admin))["budget"]["dailyTokens"] == 500
    assert (await set_budget(client, admin, tenant["id"], None))["budget"]["dailyTokens"] is None
    response = await client.patch(
        f"{TENANTS}/{tenant['id']}", headers=admin.headers, json={"budget": {"dailyTokens": 0}}
    )
    assert response.status_code == 422


async def test_model_nodes_count_toward_the_budget_and_a_spent_budget_refuses_runs(
    client: httpx.AsyncClient, admin: Caller, model: FakeServer
) -> None:
    tenant = await default_tenant(client, admin)
    await set_budget(client, admin, tenant["id"], 20)
    replies = [JsonReply(openai_completion("hi", usage=(12, 13))) for _ in range(3)]
    model.script("POST", COMPLETIONS, *replies)
    workflow = await create(client, admin, chain(ask("first"), ask("second")))
    started = await trigger(client, admin, workflow["id"])
    run = await wait_run(client, admin, workflow["id"], started["runId"])
    # the first call used 25 tokens of 20: the second model node finds the budget spent
    assert run["status"] == "Failed", run
    assert run["error"]["code"] == "budget_exceeded"
    assert by_node(run)["first"]["status"] == "Completed"
    assert "budget" in by_node(run)["second"]["error"]["message"]
    assert len(model.received(COMPLETIONS)) == 1
    task = (await client.get(f"/api/tasks/{started['taskId']}", headers=admin.headers)).json()
    assert (task["inputTokens"], task["outputTokens"]) == (12, 13)

    # a run with model nodes is refused up front, and leaves nothing behind
    tasks_before = await task_count(client, admin)
    response = await client.post(
        f"/api/workflows/{workflow['id']}/trigger", headers=admin.headers, json={}
    )
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "budget_exceeded"
    assert response.json()["error"]["details"]["dailyTokens"] == 20
    runs = (await client.get(f"/api/workflows/{workflow['id']}/runs", headers=admin.headers)).json()
    assert [r["id"] for r in runs["items"]] == [started["runId"]]
    assert await task_count(client, admin) == tasks_before

    # a workflow without model nodes still runs; a raised budget lets model runs start again
    plain = await create(client, admin, chain(transform("only", 1)))
    done = await trigger(client, admin, plain["id"])
    assert (await wait_run(client, admin, plain["id"], done["runId"]))["status"] == "Completed"
    await set_budget(client, admin, tenant["id"], 1000)
    again = await trigger(client, admin, workflow["id"])
    run = await wait_run(client, admin, workflow["id"], again["runId"])
    assert run["status"] == "Completed", run
    # the model is asked for no more output tokens than the budget has left
    last = model.received(COMPLETIONS)[-1].json()
    assert last.get("max_tokens", last.get("max_completion_tokens")) <= 1000 - 25 - 25


async def test_an_agents_run_shows_its_model_tokens_in_the_agents_usage(
    client: httpx.AsyncClient, admin: Caller, model: FakeServer, gateway: Gateway
) -> None:
    agent = await default_agent(client, admin)
    tenant = (await client.get("/api/auth/me", headers=admin.headers)).json()["tenant"]["id"]
    model.script("POST", COMPLETIONS, JsonReply(openai_completion("hi", usage=(30, 7))))
    workflow = await create(client, admin, {**chain(ask("only")), "enabled": True})
    context = ToolContext(
        settings=gateway.settings,
        principal_id=admin.id,
        tenant_id=tenant,
        agent_id=agent["id"],
        database=gateway.db,
    )
    tool = gateway.tools.get("workflow.trigger")
    assert tool is not None
    started = await run_tool(tool, context, {"workflowId": workflow["id"]})
    assert started.data is not None, started.content
    run = await wait_run(client, admin, workflow["id"], started.data["runId"])
    assert run["status"] == "Completed", run
    usage = (await client.get(f"/api/agents/{agent['id']}/usage", headers=admin.headers)).json()
    kinds = {k["kind"]: k for k in usage["byKind"]}
    assert (kinds["workflow"]["calls"], kinds["workflow"]["inputTokens"]) == (1, 30)
    assert kinds["workflow"]["outputTokens"] == 7
