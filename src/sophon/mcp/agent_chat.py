"""`agent.chat`, a tool only the Gateway's MCP server offers: send a message to an agent (by id or
name; the tenant's default agent without one) and get its reply, as the MCP client's user, in a
new session or an existing one. The turn runs on the Gateway's task queue like any chat."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sophon.chat import service as chat
from sophon.chat.schemas import ChatIn
from sophon.gateway import Gateway
from sophon.platform.errors import DomainError
from sophon.platform.principal import Principal
from sophon.tasks import service as tasks
from sophon.tools.invoke import ToolArguments, ToolContext, ToolResult, builtin_tool
from sophon.tools.registry import RiskLevel, Tool

NAME = "agent.chat"
WAIT_SECONDS = 600.0


class AgentChatArguments(ToolArguments):
    message: str = Field(min_length=1, max_length=100_000, description="What to say.")
    agent: str | None = Field(None, description="The agent's id or name; default agent if absent.")
    session_id: str | None = Field(None, description="Continue this session (from a reply).")


async def _unused(_context: ToolContext, _arguments: AgentChatArguments) -> ToolResult:
    raise NotImplementedError  # run by `chat_with_agent`, which needs the caller and the Gateway


TOOL: Tool = builtin_tool(
    NAME,
    "Send a message to a Sophon agent and get its reply.",
    RiskLevel.LOW,
    AgentChatArguments,
    _unused,
)


async def chat_with_agent(
    gateway: Gateway, principal: Principal, arguments: dict[str, Any]
) -> ToolResult:
    args = AgentChatArguments.model_validate(arguments)
    body = ChatIn(
        agent_id=args.agent, session_id=args.session_id, content=args.message, is_streaming=False
    )
    try:
        async with gateway.db.transaction(tenant_id=principal.tenant_id) as db:
            accepted = await chat.submit_chat(db, principal, body)
    except DomainError as refused:  # no such agent or session, paused Gateway...
        return ToolResult.error(refused.message, {"code": refused.code})
    async with gateway.db.transaction(readonly=True, tenant_id=principal.tenant_id) as db:
        task = await tasks.wait_finished(
            db, gateway.bus, principal, accepted.task_id, WAIT_SECONDS, gateway.stopping
        )
        written = await chat.task_messages(db, accepted.session_id, accepted.task_id)
    replies = [m.content for m in written if m.role == "assistant" and m.content]
    data = {"sessionId": accepted.session_id, "taskId": accepted.task_id, "status": task.status}
    if task.status != "Completed":
        return ToolResult.error(
            f"The agent's turn ended {task.status}: {task.error or ''}".strip(), data
        )
    return ToolResult(
        content=replies[-1] if replies else "",
        data={**data, "reply": replies[-1] if replies else ""},
    )
