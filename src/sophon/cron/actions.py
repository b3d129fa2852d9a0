"""Checking a job's action when it is saved: the referenced agent or workflow exists, a webhook
URL is public, and how risky the action is (Medium or above waits for an approval)."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents import service as agents
from sophon.cron.context import CronContext
from sophon.cron.schemas import AgentAction, CodeAction, WebhookAction, WorkflowAction
from sophon.platform.errors import NotFound, ValidationFailed
from sophon.platform.netguard import (
    OutboundPolicy,
    OutboundRefused,
    normalize_host,
    split_allow_setting,
)
from sophon.tools.registry import RiskLevel

LOOPBACK = ipaddress.ip_address("127.0.0.1")
AnyAction = AgentAction | WorkflowAction | WebhookAction | CodeAction


async def checked(
    db: AsyncSession, ctx: CronContext, action: AnyAction
) -> tuple[dict[str, Any], RiskLevel]:
    """The action as stored (camelCase, ids resolved) and its risk; 422 for a bad one."""
    if isinstance(action, AgentAction):
        try:
            agent = await agents.by_id_or_name(db, action.agent_id)
        except NotFound:
            raise ValidationFailed.on(
                "body.action.agentId", f"agent not found: {action.agent_id}"
            ) from None
        stored = action.model_dump(mode="json", by_alias=True, exclude_none=True)
        stored["agentId"] = agent.id
        risks = [ctx.tools.get(n) for n in agents.effective_tools(ctx.tools, agent)]
        top = max(
            (t.risk for t in risks if t is not None), key=lambda r: r.rank, default=RiskLevel.LOW
        )
        return stored, top
    if isinstance(action, WorkflowAction):
        launcher = ctx.workflows
        if launcher is None or not await launcher.exists(db, action.workflow_id):
            raise ValidationFailed.on("body.action.workflowId", "workflow not found")
        return action.model_dump(mode="json", by_alias=True, exclude_none=True), RiskLevel.LOW
    if isinstance(action, WebhookAction):
        vet_url(ctx, action.url)
        return action.model_dump(mode="json", by_alias=True, exclude_none=True), RiskLevel.MEDIUM
    return action.model_dump(mode="json", by_alias=True, exclude_none=True), RiskLevel.HIGH


def vet_url(ctx: CronContext, url: str) -> None:
    """Refuses a URL that is not http(s) or names a non-public address; a host name is resolved
    and checked again at every fire by the SSRF-guarded client."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed.on(
            "body.action.url", "the URL must be http:// or https:// with a host"
        )
    if parts.username or parts.password:
        raise ValidationFailed.on("body.action.url", "the URL must not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = normalize_host(parts.hostname)
    except ValueError as exc:
        raise ValidationFailed.on("body.action.url", f"invalid URL: {exc}") from None
    if isinstance(host, str):
        if host != "localhost" and not host.endswith(".localhost"):
            return
        name, addresses = host, [LOOPBACK]
    else:
        name, addresses = None, [host]
    policy = OutboundPolicy(split_allow_setting(ctx.settings.outbound_allow))
    try:
        policy.vet(parts.hostname, name, addresses, port)
    except OutboundRefused as exc:
        raise ValidationFailed.on("body.action.url", exc.message) from None
