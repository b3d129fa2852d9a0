"""Daily logs: per UTC day, agent and user, what happened (tasks, sessions, tools, outcomes).
A job builds and stores them once the day has closed (summarised by a model when one is
configured); a day without a stored log, today included, is built on demand as a digest."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents import service as agents
from sophon.memory.entries.access import Actor
from sophon.memory.models import MemoryDailyLog
from sophon.memory.schemas import DailyLogOut
from sophon.platform.clock import utcnow
from sophon.platform.ids import new_id
from sophon.platform.memo import Memo
from sophon.platform.tenancy import session_tenant
from sophon.tasks import activity

LINE_CHARS = 120
PROMPT_LINES = 20  # a day's newest task lines an agent reads in its prompt


@dataclass
class Digest:
    agent_id: str
    user_id: str | None
    day: date
    summary: str
    lines: list[str]
    stats: dict[str, Any]
    method: str = "digest"


def bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


TODAY_SECONDS = 30.0


def today() -> date:
    return utcnow().date()


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= LINE_CHARS else flat[: LINE_CHARS - 1] + "…"


def _line(task: activity.TaskActivity) -> str:
    what = "Heartbeat" if task.kind == "heartbeat" else "Chat"
    text = f"[{task.created_at:%Y-%m-%d %H:%M}] {what} ({task.status.lower()})"
    if task.description:
        text += f": {_one_line(task.description)}"
    if task.tools:
        used = ", ".join(
            t.name + (f" ({t.status})" if t.status not in ("done", "completed") else "")
            for t in task.tools
        )
        text += f"; tools: {used}"
    if task.error:
        text += f"; error: {_one_line(task.error)}"
    return text


def _summary(tasks: int, sessions: int, statuses: Counter[str], tools: Counter[str]) -> str:
    if not tasks:
        return "No activity."
    parts = [f"{tasks} task(s) in {sessions} session(s)"]
    if statuses:
        parts.append(", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
    if tools:
        parts.append("tools: " + ", ".join(f"{n} x{c}" for n, c in tools.most_common()))
    return "; ".join(parts) + "."


def digest(
    agent_id: str, user_id: str | None, day: date, tasks: list[activity.TaskActivity]
) -> Digest:
    statuses = Counter(t.status.lower() for t in tasks)
    tools = Counter(u.name for t in tasks for u in t.tools)
    sessions = {t.session_id for t in tasks if t.session_id}
    stats: dict[str, Any] = {
        "tasks": len(tasks),
        "sessions": len(sessions),
        "statuses": dict(statuses),
        "tools": dict(tools),
        "tokens": sum(t.tokens for t in tasks),
    }
    summary = _summary(len(tasks), len(sessions), statuses, tools)
    return Digest(agent_id, user_id, day, summary, [_line(t) for t in tasks], stats)


async def build(db: AsyncSession, agent_id: str, user_id: str | None, day: date) -> Digest:
    start, end = bounds(day)
    tasks = await activity.tasks_between(db, agent_id, start, end, user_id)
    return digest(agent_id, user_id, day, tasks)


async def brief(db: AsyncSession, agent_id: str, user_id: str | None, day: date) -> Digest:
    """A day not yet stored, as an agent's prompt shows it, read in a bounded way however busy
    the day: the counts come from the database and only the newest `PROMPT_LINES` tasks are
    loaded. Tool counts need every task, so this summary leaves them to the lines."""
    start, end = bounds(day)
    counts = await activity.counts_between(db, agent_id, start, end, user_id)
    tasks = await activity.tasks_between(db, agent_id, start, end, user_id, newest=PROMPT_LINES)
    statuses = Counter({s.lower(): n for s, n in counts.statuses.items()})
    summary = _summary(counts.tasks, counts.sessions, statuses, Counter())
    stats = {"tasks": counts.tasks, "sessions": counts.sessions, "statuses": dict(statuses)}
    return Digest(agent_id, user_id, day, summary, [_line(t) for t in tasks], stats)


async def store(db: AsyncSession, made: Digest) -> MemoryDailyLog:
    """Saves (or replaces) the day's log."""
    key = made.user_id or ""
    row = await db.scalar(
        select(MemoryDailyLog).where(
            MemoryDailyLog.agent_id == made.agent_id,
            MemoryDailyLog.user_key == key,
            MemoryDailyLog.day == made.day.isoformat(),
        )
    )
    if row is None:
        row = MemoryDailyLog(
            id=new_id("mdl"), agent_id=made.agent_id, user_key=key, day=made.day.isoformat()
        )
        db.add(row)
    row.summary, row.lines, row.stats = made.summary, made.lines, made.stats
    row.method, row.built_at = made.method, utcnow()
    await db.flush()
    return row


def _out(made: Digest, built_at: datetime, final: bool) -> DailyLogOut:
    return DailyLogOut(
        date=made.day.isoformat(),
        agent_id=made.agent_id,
        user_id=made.user_id,
        summary=made.summary,
        lines=made.lines,
        stats=made.stats,
        method=made.method,
        final=final,
        built_at=built_at,
    )


def _from_row(row: MemoryDailyLog) -> Digest:
    return Digest(
        row.agent_id,
        row.user_key or None,
        date.fromisoformat(row.day),
        row.summary,
        list(row.lines),
        dict(row.stats),
        row.method,
    )


async def collect(
    db: AsyncSession,
    day: date,
    agent_id: str | None,
    users: list[str | None] | None,
    make: Callable[[AsyncSession, str, str | None, date], Awaitable[Digest]] = build,
) -> list[tuple[Digest, datetime, bool]]:
    """The day's logs for the agent (or every agent) and users (None: everyone): stored rows
    first, the rest made now (`build`: the whole day)."""
    stmt = select(MemoryDailyLog).where(MemoryDailyLog.day == day.isoformat())
    if agent_id:
        stmt = stmt.where(MemoryDailyLog.agent_id == agent_id)
    if users is not None:
        stmt = stmt.where(MemoryDailyLog.user_key.in_([u or "" for u in users]))
    stored = {(r.agent_id, r.user_key or None): r for r in await db.scalars(stmt)}
    start, end = bounds(day)
    pairs = await activity.pairs_between(db, start, end, agent_id, users)
    closed = day < today()
    out: list[tuple[Digest, datetime, bool]] = []
    for pair in sorted(set(pairs) | set(stored), key=lambda p: (p[0], p[1] or "")):
        row = stored.get(pair)
        if row is not None:
            out.append((_from_row(row), row.built_at, closed))
        else:
            out.append((await make(db, pair[0], pair[1], day), utcnow(), closed))
    return out


async def for_day(
    db: AsyncSession, actor: Actor, day: date | None, agent_id: str | None
) -> list[DailyLogOut]:
    if agent_id:
        await agents.get(db, agent_id)
    users = None if actor.manage else [actor.user_id]
    found = await collect(db, day or today(), agent_id, users)
    return [_out(made, built, final) for made, built, final in found]


async def recent(
    db: AsyncSession, agent_id: str, days: int = 2, *, user_id: str | None = None
) -> str:
    """The agent's logs of the last `days` days (today included) as text for its prompt:
    the user's own and the agent's work for nobody in particular (heartbeats)."""
    users: list[str | None] = [None] if user_id is None else [user_id, None]
    blocks: list[str] = []
    for back in range(days - 1, -1, -1):
        day = today() - timedelta(days=back)
        key = (session_tenant(db.sync_session), agent_id, tuple(users), day)
        load = partial(_day_blocks, db, day, agent_id, users)
        if back:
            found, _live = await _CLOSED.get(db, key, load, keep=_stored_only)
        else:
            found, _live = await _TODAY.get(db, key, load)
        blocks += found
    return "\n\n".join(blocks)


_CLOSED: Memo[tuple[list[str], bool]] = Memo({"memory_daily_logs"})
"""The prompt blocks of closed days, when made of stored logs only (or of nothing: no task can
start on a day that has passed): they change only when a log is stored."""


_TODAY: Memo[tuple[list[str], bool]] = Memo((), ttl=TODAY_SECONDS)
"""Today's prompt blocks change with every task: a turn sees them as they were at most
`TODAY_SECONDS` ago (the conversation itself is in its history), so a busy agent's turns do not
each count and list the day's tasks again."""


def _stored_only(found: tuple[list[str], bool]) -> bool:
    return not found[1]


async def _day_blocks(
    db: AsyncSession, day: date, agent_id: str, users: list[str | None]
) -> tuple[list[str], bool]:
    """The day's prompt blocks, and whether any was made from the tasks (not a stored log)."""
    live = False

    async def made_now(db: AsyncSession, agent: str, user: str | None, when: date) -> Digest:
        nonlocal live
        live = True
        return await brief(db, agent, user, when)

    blocks = [
        f"{day.isoformat()}: {made.summary}\n" + "\n".join(_newest(made))
        for made, _built, _final in await collect(db, day, agent_id, users, made_now)
        if made.lines
    ]
    return blocks, live


def _newest(made: Digest) -> list[str]:
    """A busy day's prompt block stays short: its newest lines (the summary counts them all)."""
    shown = made.lines[-PROMPT_LINES:]
    hidden = made.stats.get("tasks", len(made.lines)) - len(shown)
    return [f"(and {hidden} earlier task(s))", *shown] if hidden > 0 else shown
