"""A turn's state (`Turn`) and the narrow services its steps use (`TurnScope`): a transaction,
a model call, usage, live events, status, and waiting for an approval. Prompt building, planning
and tool calls get these two and nothing else, so they never call back into the turn's loop.

Two publish paths: `publish_live` sends at once and is lost if nobody listens (stream chunks,
status, tool-call progress); durable state changes queue their events with
`platform.events.after_commit` inside `tx()`, released only when it commits.

A workflow engine runs an agent step or a tool call with approvals the same way: it builds a
`TurnScope` from the process parts and a `Turn` for the step's task, then calls
`context.build`, `planning.maybe_plan` or `toolcalls.run_calls` with them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents.models import Agent
from sophon.approvals.gate import wait_for_decision
from sophon.approvals.models import Approval
from sophon.chat import service as chat
from sophon.chat.models import ChatSession
from sophon.llm import ChatRequest, ChatResponse, StreamEvent
from sophon.platform.db import Database
from sophon.platform.events import EventBus, EventName
from sophon.platform.queue import ClaimedJob
from sophon.platform.vault import Vault
from sophon.providers import routing, usage
from sophon.providers.connect import ProviderRuntime
from sophon.runtime import hooks
from sophon.runtime.errors import TurnCancelled
from sophon.settings import Settings
from sophon.tasks import service as tasks
from sophon.tasks.events import task_event
from sophon.tasks.models import Task
from sophon.tools.registry import Tool, ToolRegistry


@dataclass
class Turn:
    task: Task
    session: ChatSession
    agent: Agent
    stop: asyncio.Event
    query: str = ""  # the message this turn answers
    attached: bool = True  # that message may have attachments (False: it has none)
    resumed: bool = False  # a previous run of this turn was interrupted
    tools: list[Tool] = field(default_factory=list)
    plan: dict[str, Any] | None = None
    plan_approved: bool | None = None
    waiting_calls: tuple[str, list[dict[str, Any]]] | None = None
    """(message id, tool-call entries) of a batch a restart caught waiting for approvals."""
    called_tools: bool = False  # this run stored tool calls (which may have asked approvals)
    job: ClaimedJob | None = None  # the queue job running the turn, completed with its answer

    @property
    def may_await_approvals(self) -> bool:
        """Whether an approval of this task may be pending: only tool calls, a plan or an
        earlier run of the turn ask for one."""
        return self.resumed or self.called_tools or self.plan is not None

    @property
    def heartbeat(self) -> bool:
        return self.task.kind == "heartbeat"

    @property
    def info(self) -> hooks.TurnInfo:
        return hooks.TurnInfo(
            tenant_id=self.task.tenant_id,
            task_id=self.task.id,
            session_id=self.session.id,
            agent_id=self.agent.id,
            user_id=self.task.user_id,
            query=self.query,
            attached=self.attached,
        )


@dataclass(frozen=True)
class TurnScope:
    """What a step may use; built once per process from its parts."""

    settings: Settings
    database: Database
    bus: EventBus
    vault: Vault
    model_runtime: ProviderRuntime
    tools: ToolRegistry

    def catalog(self, turn: Turn) -> ToolRegistry:
        """The tools of the turn's tenant: the built-ins plus its bridged ones."""
        return self.tools.for_tenant(turn.task.tenant_id)

    def tx(
        self, turn: Turn, *, readonly: bool = False
    ) -> AbstractAsyncContextManager[AsyncSession]:
        """A transaction in the turn's tenant."""
        return self.database.transaction(readonly=readonly, tenant_id=turn.task.tenant_id)

    # --- model calls ---------------------------------------------------------------------------

    async def candidates(self, db: AsyncSession, turn: Turn) -> list[routing.Candidate]:
        """The agent's providers to try now, in routing order."""
        return await routing.plan(db, self.vault, turn.agent.model or None)

    async def complete(
        self, turn: Turn, request: ChatRequest, candidates: list[routing.Candidate] | None = None
    ) -> tuple[routing.Candidate, ChatResponse]:
        """One answer, without streaming, from `candidates` (by default the agent's plan now)."""
        if candidates is None:
            async with self.tx(turn, readonly=True) as db:
                candidates = await self.candidates(db, turn)
        return await routing.complete_with(self.model_runtime, candidates, request)

    def stream(
        self,
        candidates: list[routing.Candidate],
        request: ChatRequest,
        used: list[routing.Candidate],
    ) -> AsyncGenerator[StreamEvent, None]:
        """The streaming twin of `complete`; the candidate that answers is appended to `used`."""
        return routing.stream_with(self.model_runtime, candidates, request, used)

    async def record_usage(
        self, turn: Turn, candidate: routing.Candidate, response: ChatResponse
    ) -> None:
        """Counts a model call that stores nothing else (planning, summaries)."""
        async with self.tx(turn) as db:
            task, session = await locked(db, turn)
            add_usage(db, turn, task, session, candidate, response)

    # --- events and approvals ------------------------------------------------------------------

    async def publish_live(self, turn: Turn, name: EventName, **payload: Any) -> None:
        """Sends the event now, not held back by any transaction (progress, not state)."""
        await self.bus.publish(task_event(turn.task, name, **payload))

    async def status(self, turn: Turn, status: str, detail: str) -> None:
        await self.publish_live(turn, EventName.AGENT_STATUS, status=status, detail=detail)

    def approval_timeout(self, tool_name: str) -> float:
        overrides = self.settings.approval_timeouts
        return overrides.get(tool_name, self.settings.approval_timeout_seconds)

    async def await_approval(self, turn: Turn, approval_id: str) -> Approval | None:
        """The decided approval; None when the turn was stopped first or it vanished."""
        return await wait_for_decision(
            self.database, self.bus, turn.task.tenant_id, approval_id, turn.stop
        )


async def locked(db: AsyncSession, turn: Turn) -> tuple[Task, ChatSession]:
    """The turn's task and session, locked for an update (one statement)."""
    stmt = (
        select(Task, ChatSession)
        .join(ChatSession, ChatSession.id == turn.session.id)
        .where(Task.id == turn.task.id)
        .with_for_update(of=(Task, ChatSession))
    )
    row = (await db.execute(stmt)).first()
    if row is None:
        raise TurnCancelled  # the session was deleted meanwhile
    task, session = row
    return task, session


def add_usage(
    db: AsyncSession,
    turn: Turn,
    task: Task,
    session: ChatSession | None,
    candidate: routing.Candidate,
    response: ChatResponse,
) -> None:
    usage.record(
        db,
        candidate.name,
        response,
        agent_id=turn.agent.id,
        user_id=task.user_id,
        session_id=turn.session.id,
        task_id=task.id,
    )
    tasks.add_tokens(task, response.usage.input_tokens, response.usage.output_tokens)
    if session is not None:
        chat.add_tokens(session, response.usage.total_tokens)
