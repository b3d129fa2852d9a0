"""The agent tools through the catalog: `workflow.create` saves an agent-authored workflow that
waits for approval, `workflow.trigger` starts a run with the `agent` trigger, `workflow.list`;
each acts with the session user's permissions."""

from __future__ import annotations

import httpx

from sophon.gateway import Gateway
from sophon.tools.invoke import ToolContext, run_tool
from tests.identity_helpers import Caller, add_user
from tests.workflows.wf_helpers import chain, transform, wait_run


def context(gateway: Gateway, caller: Caller, tenant_id: str) -> ToolContext:
    return ToolContext(
        settings=gateway.settings,
        principal_id=caller.id,
        tenant_id=tenant_id,
        agent_id="agt_test",
        database=gateway.db,
    )


async def test_an_agent_creates_lists_and_triggers_a_workflow(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway
) -> None:
    tenant = (await client.get("/api/auth/me", headers=admin.headers)).json()["tenant"]["id"]
    tools = gateway.tools
    assert tools.get("workflow.create").risk.value == "High"  # type: ignore[union-attr]
    ctx = context(gateway, admin, tenant)
    created = await run_tool(
        tools.get("workflow.create"),
        ctx,  # type: ignore[arg-type]
        {"definition": chain(transform("a", "{{ $input.q }}"))},
    )
    assert not created.is_error, created.content
    assert created.data is not None
    workflow_id = created.data["id"]
    assert created.data["approval"] == "Pending"
    refused = await run_tool(
        tools.get("workflow.trigger"),
        ctx,  # type: ignore[arg-type]
        {"workflowId": workflow_id},
    )
    assert refused.is_error
    await client.post(f"/api/approvals/{created.data['approvalId']}/approve", headers=admin.headers)
    listed = await run_tool(tools.get("workflow.list"), ctx, {})  # type: ignore[arg-type]
    assert listed.data is not None
    assert [w["id"] for w in listed.data["items"]] == [workflow_id]
    assert listed.data["items"][0]["enabled"] is True
    started = await run_tool(
        tools.get("workflow.trigger"),
        ctx,  # type: ignore[arg-type]
        {"workflowId": workflow_id, "input": {"q": "hi"}},
    )
    assert not started.is_error, started.content
    assert started.data is not None
    run = await wait_run(client, admin, workflow_id, started.data["runId"])
    assert run["trigger"] == {"type": "agent", "agentId": "agt_test"}
    assert run["nodes"][0]["output"] == "hi"
    bad = await run_tool(
        tools.get("workflow.create"),
        ctx,  # type: ignore[arg-type]
        {"definition": chain(transform("a", 1), edges=[{"from": "a", "to": "b"}])},
    )
    assert bad.is_error
    assert bad.data is not None
    assert bad.data["field"] == "edges[0].to"


async def test_the_tools_act_with_the_users_permissions(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway
) -> None:
    tenant = (await client.get("/api/auth/me", headers=admin.headers)).json()["tenant"]["id"]
    member = await add_user(client, admin, "member@example.com", ["Member"])
    ctx = context(gateway, member, tenant)
    created = await run_tool(
        gateway.tools.get("workflow.create"),
        ctx,  # type: ignore[arg-type]
        {"definition": chain(transform("a", 1))},
    )
    assert created.is_error
    assert "ManageWorkflows" in created.content
    listed = await run_tool(gateway.tools.get("workflow.list"), ctx, {})  # type: ignore[arg-type]
    assert listed.is_error
    assert (await client.get("/api/workflows", headers=admin.headers)).json()["items"] == []
