"""One agent turn, run by a queue worker: budget → context → (plan) → model → tool calls
(approval gate, parallel execution) → repeat until the model answers or the step limit. Every
step is persisted as it happens, so a turn interrupted by a crash resumes from its last step."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import BindParameter, Select, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents import service as agents
from sophon.agents.models import Agent
from sophon.approvals import service as approvals
from sophon.chat import service as chat
from sophon.chat import writes as chat_writes
from sophon.chat.models import ChatSession, Message
from sophon.llm import (
    ChatRequest,
    ChatResponse,
    Completed,
    TextDelta,
)
from sophon.platform import prepared, queue
from sophon.platform.aio import first_of
from sophon.platform.clock import iso, utcnow
from sophon.platform.errors import DomainError
from sophon.platform.events import Audience, Event, EventName, after_commit
from sophon.platform.ids import new_id
from sophon.platform.queue import ClaimedJob
from sophon.platform.tenancy import acting_in, session_tenant
from sophon.providers import routing, usage
from sophon.runtime import hooks, planning, toolcalls
from sophon.runtime import prompt as context_builder
from sophon.runtime.errors import TurnCancelled, TurnFailed, TurnSkipped
from sophon.runtime.step import Turn, TurnScope, add_usage, locked
from sophon.runtime.system_prompt import HEARTBEAT_OK
from sophon.tasks import service as tasks
from sophon.tasks import turns as task_turns
from sophon.tasks.events import task_event
from sophon.tasks.models import FINISHED, Task, TaskStatus
from sophon.tools.registry import Tool, ranking_words

log = logging.getLogger("sophon.runtime")
_Row = TypeVar("_Row")


class TurnRunner:
    """Runs turns: their lifecycle (begin, end) and the loop of steps; the steps' services are
    the `TurnScope`."""

    def __init__(self, scope: TurnScope) -> None:
        self.scope = scope
        self.settings = scope.settings
        self._stops: dict[str, asyncio.Event] = {}

    def request_stop(self, task_id: str) -> None:
        """A cancel request for a task this process may be running."""
        stop = self._stops.get(task_id)
        if stop is not None:
            stop.set()

    async def handle(self, job: ClaimedJob) -> dict[str, Any] | None:
        task_id = str(job.payload["taskId"])
        stop = self._stops.setdefault(task_id, asyncio.Event())
        try:
            begun = job.prepared
            turn: Turn | None
            if isinstance(begun, Begun):
                turn = Turn(begun.task, begun.session, begun.agent, stop, query=begun.query,
                            resumed=begun.resumed, attached=begun.attached, job=job)  # fmt: skip
            else:
                turn = await self._begin(job, task_id, stop)
            if turn is None:
                return None
            status, error, code = TaskStatus.COMPLETED, None, None
            try:
                await self._run(turn)
                return {"status": TaskStatus.COMPLETED.value}
            except TurnCancelled:
                status = TaskStatus.CANCELLED
            except TurnSkipped as skipped:
                status, error, code = TaskStatus.CANCELLED, str(skipped), "skipped"
            except TurnFailed as failed:
                status, error, code = TaskStatus.FAILED, failed.message, failed.code
            except DomainError as failed:
                status, error, code = TaskStatus.FAILED, failed.message, failed.code
            except Exception:
                log.exception("turn of task %s failed", task_id)
                status, error, code = (
                    TaskStatus.FAILED,
                    "The turn failed unexpectedly; the Gateway log has the details.",
                    "internal_error",
                )
            await self._end(turn, status, error=error, error_code=code)
            return {"status": status.value}
        finally:
            self._stops.pop(task_id, None)

    # --- lifecycle -----------------------------------------------------------------------------

    async def prepare(self, db: AsyncSession, job: ClaimedJob) -> Begun | None:
        """The turn's start in its claim's transaction (`queue.Prepare`), saving a transaction:
        an ordinary turn's task is loaded and marked Running there. Anything else (a task gone,
        finished, cancelled, out of attempts, or its session or agent deleted) is left to
        `_begin` in the handler."""
        if job.attempts > tasks.TURN_ATTEMPTS:
            return None
        with acting_in(db.sync_session, job.tenant_id):
            task, session, agent, query, attached = await _load(db, str(job.payload["taskId"]))
            if task is None or task.status in FINISHED or task.cancel_requested:
                return None
            if session is None or agent is None or agent.deleted_at is not None:
                return None
            resumed = await task_turns.start_turn(db, task)
        return Begun(task, session, agent, query, attached, resumed)

    async def _begin(self, job: ClaimedJob, task_id: str, stop: asyncio.Event) -> Turn | None:
        async with self.scope.database.transaction(tenant_id=job.tenant_id) as db:
            task, session, agent, query, attached = await _load(db, task_id)
            if task is None or task.status in FINISHED:
                return None
            db.add(task)  # a turn that does not start ends its task here, through the ORM
            if task.cancel_requested:
                await finish(db, task, TaskStatus.CANCELLED)
                return None
            if job.attempts > tasks.TURN_ATTEMPTS:
                await finish(
                    db, task, TaskStatus.FAILED, error="gateway restarted",
                    error_code="gateway_restarted",
                )  # fmt: skip
                return None
            if session is None or agent is None or agent.deleted_at is not None:
                gone = "session" if session is None else "agent"
                await finish(db, task, TaskStatus.CANCELLED, error=f"The {gone} was deleted.")
                return None
            resumed = await task_turns.start_turn(db, task)
        return Turn(
            task, session, agent, stop, query=query, resumed=resumed, attached=attached, job=job
        )

    async def _end(
        self,
        turn: Turn,
        status: TaskStatus,
        *,
        error: str | None = None,
        error_code: str | None = None,
    ) -> None:
        async with self.scope.tx(turn) as db:
            task = await tasks.lock(db, turn.task.id)
            if task is None or task.status in FINISHED:
                return
            tasks.note(task, error or status.value.lower())
            await finish(db, task, status, error=error, error_code=error_code)

    # --- the loop ------------------------------------------------------------------------------

    async def _run(self, turn: Turn) -> None:
        await self._check_budget(turn)
        if turn.resumed and await self._already_answered(turn):
            return
        turn.tools = self._offered_tools(turn)
        await planning.maybe_plan(self.scope, turn)
        if turn.waiting_calls is not None:
            await toolcalls.resume_calls(self.scope, turn, *turn.waiting_calls)
        steps = self.settings.max_agent_steps
        for step in range(steps + 1):
            self._check_stop(turn)
            last = step == steps
            context = await context_builder.build(self.scope, turn)
            await self.scope.status(turn, "thinking", "")
            candidate, response = await self._call_model(turn, context, offer_tools=not last)
            if not response.tool_calls or last:
                await self._answer(turn, candidate, response)
                return
            message_id = await self._store_calls(turn, candidate, response)
            await toolcalls.run_calls(self.scope, turn, message_id, response)
            self._check_stop(turn)

    def _check_stop(self, turn: Turn) -> None:
        if turn.stop.is_set():
            raise TurnCancelled

    async def _check_budget(self, turn: Turn) -> None:
        budget = turn.agent.budget_daily_tokens
        if not budget:
            return
        midnight = datetime.combine(utcnow().date(), datetime.min.time(), tzinfo=UTC)
        async with self.scope.tx(turn, readonly=True) as db:
            used = await usage.agent_tokens_since(db, turn.agent.id, midnight)
        if used >= budget:
            raise TurnFailed(
                "budget_exceeded",
                f"The agent's daily token budget ({budget} tokens) is used up; "
                "it resets at midnight UTC.",
            )

    async def _already_answered(self, turn: Turn) -> bool:
        """On resume: a final answer stored before the crash completes the task; a batch of tool
        calls still waiting for approvals is picked up again (`waiting_calls`); other tool calls
        left without a result are answered with an error the model sees."""
        async with self.scope.tx(turn) as db:
            mine = await chat.task_messages(db, turn.session.id, turn.task.id)
            assistants = [m for m in mine if m.role == "assistant"]
            if assistants and not assistants[-1].tool_calls:
                task = await tasks.lock(db, turn.task.id)
                if task is not None:
                    await finish(db, task, TaskStatus.COMPLETED)
                return True
            if assistants:
                answered = {m.tool_call_id for m in mine if m.role == "tool"}
                last = assistants[-1]
                if toolcalls.awaiting_approval(last, answered):
                    turn.waiting_calls = (last.id, list(last.tool_calls))
                    return False
                session = await chat.lock_session(db, turn.session.id)
                if session is not None:
                    toolcalls.interrupt_unanswered(db, session, turn.task.id, last, answered)
        return False

    def _offered_tools(self, turn: Turn) -> list[Tool]:
        tools = self.scope.catalog(turn)
        names = agents.effective_tools(tools, turn.agent)
        available = [t for n in names if (t := tools.get(n)) is not None]
        query = turn.query
        words = ranking_words(query)

        def relevance(tool: Tool) -> tuple[int, str]:
            mentioned = 10 if tool.name in query else 0
            overlap = len(words & tool.ranking_words)
            return (-(mentioned + overlap), tool.name)

        return sorted(available, key=relevance)[: self.settings.max_tools_per_call]

    # --- model calls ---------------------------------------------------------------------------

    async def _call_model(
        self, turn: Turn, context: context_builder.Context, *, offer_tools: bool
    ) -> tuple[routing.Candidate, ChatResponse]:
        request = ChatRequest(
            model="",
            messages=context.messages,
            tools=[tool.spec for tool in turn.tools] if offer_tools else [],
            temperature=turn.agent.temperature,
            max_tokens=turn.agent.max_tokens,
        )
        call = asyncio.ensure_future(self._model_answer(turn, request, context.candidates))
        await first_of(asyncio.shield(call), turn.stop.wait(), limit=None)
        if not call.done():
            call.cancel()
            await asyncio.gather(call, return_exceptions=True)
            raise TurnCancelled
        return call.result()

    async def _model_answer(
        self, turn: Turn, request: ChatRequest, candidates: list[routing.Candidate]
    ) -> tuple[routing.Candidate, ChatResponse]:
        if not turn.task.streaming:
            return await self.scope.complete(turn, request, candidates)
        used: list[routing.Candidate] = []
        events = self.scope.stream(candidates, request, used)
        async with aclosing(events):
            async for event in events:
                if isinstance(event, TextDelta) and event.text:
                    await self.scope.publish_live(
                        turn, EventName.STREAM_CHUNK, delta=event.text, isFinal=False
                    )
                elif isinstance(event, Completed):
                    return used[0], event.response
        raise TurnFailed("upstream_unavailable", "The model's stream ended without an answer.")

    # --- persistence ---------------------------------------------------------------------------

    async def _store_calls(
        self, turn: Turn, candidate: routing.Candidate, response: ChatResponse
    ) -> str:
        turn.called_tools = True
        async with self.scope.tx(turn) as db:
            task, session = await locked(db, turn)
            add_usage(db, turn, task, session, candidate, response)
            entries = [
                toolcalls.entry(self.scope.catalog(turn), call) for call in response.tool_calls
            ]
            message = chat.append_message(
                db,
                session,
                "assistant",
                response.content,
                task_id=task.id,
                tool_calls=entries,
                tokens=response.usage.output_tokens,
            )
            return message.id

    async def _answer(
        self, turn: Turn, candidate: routing.Candidate, response: ChatResponse
    ) -> None:
        """The answer, its usage, the task's completion and (when this process runs the turn
        from the queue) its job's completion: one transaction of statements built once, no ORM
        unit of work on an ordinary turn."""
        content, spent = response.content, response.usage
        task = turn.task
        async with self.scope.tx(turn) as db:
            message_id = await chat_writes.append_answer(
                db, tenant_id=task.tenant_id, session_id=turn.session.id, task_id=task.id,
                content=content, tokens=spent.output_tokens, session_tokens=spent.total_tokens,
                now=utcnow(),
            )  # fmt: skip
            if message_id is None:
                raise TurnCancelled  # the session was deleted meanwhile
            await usage.record_now(
                db, candidate.name, response, tenant_id=task.tenant_id, agent_id=turn.agent.id,
                user_id=task.user_id, session_id=turn.session.id, task_id=task.id,
            )  # fmt: skip
            if turn.task.streaming:  # the stream's end rides with the answer: one hub write
                after_commit(db, task_event(task, EventName.STREAM_CHUNK, delta="", isFinal=True))
            after_commit(
                db,
                task_event(
                    task,
                    EventName.RECEIVE_MESSAGE,
                    messageId=message_id,
                    role="assistant",
                    content=content,
                    toolCalls=[],
                ),
            )
            if turn.heartbeat:
                await self._heartbeat_outcome(db, turn, content)
            else:  # a checklist run is no conversation to learn from
                for hook in hooks.answer_hooks:
                    await hook(db, turn.info)
            tokens = (spent.input_tokens, spent.output_tokens)
            if not await task_turns.complete_turn(db, task, *tokens):
                raise TurnCancelled  # the task was deleted meanwhile
            if turn.may_await_approvals:
                await approvals.withdraw_for_task(db, task.id, approvals.TASK_ENDED)
            if turn.job is not None:
                await queue.complete_in(db, turn.job, {"status": TaskStatus.COMPLETED.value})

    async def _heartbeat_outcome(self, db: AsyncSession, turn: Turn, content: str) -> None:
        task = await tasks.lock(db, turn.task.id)
        session = await chat.lock_session(db, turn.session.id)
        if task is None or session is None:
            return
        if content.strip() == HEARTBEAT_OK:
            chat.archive(session)
            tasks.note(task, "heartbeat: nothing to report")
            return
        tasks.note(task, "heartbeat: notified the owner")
        if task.user_id is None:
            return
        after_commit(
            db,
            Event(
                EventName.NOTIFICATION.value,
                {
                    "id": new_id("ntf"),
                    "kind": "heartbeat",
                    "title": f"{turn.agent.name}: heartbeat",
                    "body": content[:2000],
                    "agentId": turn.agent.id,
                    "sessionId": session.id,
                    "taskId": task.id,
                    "at": iso(utcnow()),
                },
                tenant_id=task.tenant_id,
                audience=Audience(user_ids=frozenset({task.user_id})),
            ),
        )


async def finish(
    db: AsyncSession, task: Task, status: TaskStatus, *, withdraw: bool = True, **fields: object
) -> None:
    """Ends the task; approvals it still waits for close with it (`withdraw=False`: the caller
    knows it asked none, and the lookup is saved)."""
    tasks.finish(db, task, status, **fields)
    if withdraw:
        await approvals.withdraw_for_task(db, task.id, approvals.TASK_ENDED)


_TASK_COLUMNS = prepared.mapped_columns(Task)
_SESSION_COLUMNS = prepared.mapped_columns(ChatSession)
_AGENT_COLUMNS = prepared.mapped_columns(Agent)
_TENANT: BindParameter[str] = bindparam("b_tenant")


def _loading() -> Select[Any]:
    tasks_, sessions, agents_, messages = (
        model.__table__ for model in (Task, ChatSession, Agent, Message)
    )
    joined = (
        tasks_.outerjoin(
            sessions, and_(sessions.c.id == tasks_.c.session_id, sessions.c.tenant_id == _TENANT)
        )
        .outerjoin(agents_, and_(agents_.c.id == tasks_.c.agent_id, agents_.c.tenant_id == _TENANT))
        .outerjoin(
            messages, and_(messages.c.id == tasks_.c.message_id, messages.c.tenant_id == _TENANT)
        )
    )
    return (
        select(*_TASK_COLUMNS, *_SESSION_COLUMNS, *_AGENT_COLUMNS)
        .add_columns(messages.c.content, messages.c.attachments)
        .select_from(joined)
        .where(tasks_.c.id == bindparam("b_task"), tasks_.c.tenant_id == _TENANT)
        .with_for_update(of=tasks_)
    )


_LOAD = _loading()


async def _load(
    db: AsyncSession, task_id: str
) -> tuple[Task | None, ChatSession | None, Agent | None, str, bool]:
    """The task (locked), its session and agent (None when gone), the text of the message it
    answers and whether that message has attachments, in one statement built once, read into
    detached objects (the turn outlives this transaction): no ORM loading on every turn."""
    values = {"b_task": task_id, "b_tenant": session_tenant(db.sync_session)}
    row = (await prepared.run(db, _LOAD, values)).first()
    if row is None:
        return None, None, None, "", False
    agent_at = len(_TASK_COLUMNS) + len(_SESSION_COLUMNS)
    content_at = agent_at + len(_AGENT_COLUMNS)
    task = prepared.detached(Task, row[: len(_TASK_COLUMNS)])
    session = _present(ChatSession, row[len(_TASK_COLUMNS) : agent_at])
    agent = _present(Agent, row[agent_at:content_at])
    content, attachments = row[content_at:]
    return task, session, agent, content or "", bool(attachments)


def _present(model: type[_Row], values: Sequence[Any]) -> _Row | None:
    """The object of an outer join's columns; None when the join found no row (all NULL)."""
    return prepared.detached(model, values) if any(v is not None for v in values) else None


@dataclass(frozen=True)
class Begun:
    """A turn started in its claim's transaction (`TurnRunner.prepare`)."""

    task: Task
    session: ChatSession
    agent: Agent
    query: str
    attached: bool
    resumed: bool
