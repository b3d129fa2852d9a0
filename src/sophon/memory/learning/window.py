"""Memory learning in batches: a session's turns are read for memories once per window, not after
every turn, so a paid model is asked at most once per session per window.

A window closes after `memory_learning_turns` answered turns, when the session has been quiet
for `memory_learning_idle_seconds`, or at compaction (`turn_hooks`). The answer of a turn queues
a `memory.learn` job only when one is due: the first turn of a window queues the *idle* job (it
runs once the session looks quiet, and looks again later if it was not), the window's last turn
queues a *turns* job that runs at once. Which turns a window holds is counted in this process
(no statement per turn); a restart forgets the count, never a turn: every answered turn has a
job queued after it in the answer's own transaction, and a batch reads all the session's
messages after the cursor `memory_session_learning` keeps, which moves in the same transaction
that saves the memories (a batch is never learned twice; jobs of one session run one at a time).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.chat import service as chat
from sophon.memory.models import MemorySessionLearning
from sophon.platform import queue
from sophon.platform.clock import iso, utcnow
from sophon.platform.queue import Job
from sophon.platform.queue_models import JobStatus
from sophon.runtime.hooks import TurnInfo

LEARN = "memory.learn"
TURNS, IDLE = "turns", "idle"
MAX_MESSAGES = 200  # per batch; a longer backlog continues in a follow-up job
TRACKED = 10_000  # sessions whose window this process counts (least recently used dropped)


@dataclass
class _Open:
    turns: int = 0
    idle_due: datetime | None = None  # when this window's idle job runs (None: none queued)


class Windows:
    """This process's count of each session's open window (see the module's docstring)."""

    def __init__(self) -> None:
        self.turns = 10
        self.idle = timedelta(seconds=300)
        self._open: OrderedDict[str, _Open] = OrderedDict()

    def configure(self, turns: int, idle_seconds: float) -> None:
        self.turns, self.idle = turns, timedelta(seconds=idle_seconds)

    def _state(self, session_id: str) -> _Open:
        state = self._open.pop(session_id, None) or _Open()
        self._open[session_id] = state
        while len(self._open) > TRACKED:
            self._open.popitem(last=False)
        return state

    async def on_answer(self, db: AsyncSession, turn: TurnInfo) -> None:
        """Answer hook: counts the turn; queues (or brings forward) the job that is due, if any:
        no statement at all on the turns in between."""
        now = utcnow()
        state = self._state(turn.session_id)
        state.turns += 1
        if state.turns >= self.turns:
            state.turns, state.idle_due = 0, None
            if not await bring_forward(db, turn, now):
                enqueue(db, turn, TURNS, now)
        elif state.idle_due is None or state.idle_due <= now:
            state.idle_due = now + self.idle
            enqueue(db, turn, IDLE, state.idle_due)

    def idle_job_moved(self, session_id: str, due: datetime | None) -> None:
        state = self._open.get(session_id)
        if state is not None:
            state.idle_due = due


windows = Windows()


def serial_key(session_id: str) -> str:
    return f"memory:{session_id}"


def _payload(turn: TurnInfo, reason: str) -> dict[str, Any]:
    return {
        "sessionId": turn.session_id,
        "agentId": turn.agent_id,
        "userId": turn.user_id,
        "reason": reason,
    }


def enqueue(db: AsyncSession, turn: TurnInfo, reason: str, run_after: datetime) -> Job:
    return queue.enqueue(
        db, LEARN, _payload(turn, reason), serial_key=serial_key(turn.session_id),
        run_after=run_after,
    )  # fmt: skip


async def bring_forward(db: AsyncSession, turn: TurnInfo, now: datetime) -> bool:
    """Makes the session's waiting learn job run now, as the close of a window of turns (one
    UPDATE); False when none waits (e.g. after a restart)."""
    stmt = (
        update(Job)
        .where(
            Job.kind == LEARN,
            Job.serial_key == serial_key(turn.session_id),
            Job.status == JobStatus.QUEUED.value,
        )
        .values(run_after=now, payload=_payload(turn, TURNS), updated_at=now)
        .execution_options(synchronize_session=False)
    )
    result = cast(CursorResult[Any], await db.execute(stmt))
    return result.rowcount > 0


async def learned_through(db: AsyncSession, session_id: str) -> str | None:
    """The id of the last message of the session a batch read, or None."""
    stmt = select(MemorySessionLearning.learned_through).where(
        MemorySessionLearning.session_id == session_id
    )
    return await db.scalar(stmt)


def advance(session_id: str, through: str) -> Callable[[AsyncSession], Awaitable[None]]:
    """Moves the session's cursor to `through` (never back), in the caller's transaction."""

    async def move(db: AsyncSession) -> None:
        row = await db.get(MemorySessionLearning, session_id, with_for_update=True)
        if row is None:
            db.add(MemorySessionLearning(session_id=session_id, learned_through=through))
        elif row.learned_through < through:
            row.learned_through, row.learned_at = through, utcnow()

    return move


@dataclass(frozen=True)
class Batch:
    """What a learn job reads: the messages after the cursor, or the time to look again."""

    messages: list[tuple[str, str, str]]
    through: str | None
    look_again: datetime | None = None
    more: bool = False


async def batch(db: AsyncSession, payload: dict[str, Any]) -> Batch:
    session_id = str(payload["sessionId"])
    after = await learned_through(db, session_id)
    rows = await chat.exchange_after(db, session_id, after, MAX_MESSAGES)
    if not rows:
        return Batch([], None)
    if payload.get("reason") == IDLE:
        quiet_from = rows[-1][3] + windows.idle
        user_turns = sum(1 for role, *_ in rows if role == "user")
        if quiet_from > utcnow() and user_turns < windows.turns:
            return Batch([], None, look_again=quiet_from)
    messages = [(role, content, message_id) for role, content, message_id, _ in rows]
    return Batch(messages, rows[-1][2], more=len(rows) == MAX_MESSAGES)


def follow_up(
    payload: dict[str, Any], run_after: datetime, reason: str
) -> Callable[[AsyncSession], Awaitable[None]]:
    async def add(db: AsyncSession) -> None:
        queue.enqueue(
            db,
            LEARN,
            {**payload, "reason": reason},
            serial_key=serial_key(str(payload["sessionId"])),
            run_after=run_after,
        )

    return add


def describe(found: Batch, entries: list[str]) -> dict[str, Any]:
    if found.look_again is not None:
        return {"lookAgainAt": iso(found.look_again)}
    return {"messages": len(found.messages), "entries": entries}
