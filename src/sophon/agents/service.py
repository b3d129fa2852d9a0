"""Agents of a tenant: create, read, change, soft-delete, the default agent and the tool
allowlist. HTTP-free; callers own the transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, or_, select
from sqlalchemy import update as update_rows
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from sophon.agents import files
from sophon.agents.models import Agent, AgentFileVersion
from sophon.audit import service as audit
from sophon.audit.marks import audited, exempt
from sophon.platform.clock import utcnow
from sophon.platform.errors import Conflict, NotFound, ValidationFailed
from sophon.platform.events import Audience, Event, after_commit
from sophon.platform.ids import new_id
from sophon.platform.listing import TenantList
from sophon.platform.principal import Principal
from sophon.platform.tenancy import ALL_TENANTS
from sophon.tasks import service as tasks
from sophon.tools.registry import ToolRegistry, UnknownTools

if TYPE_CHECKING:
    from sophon.agents.schemas import AgentIn, AgentPatchIn
    from sophon.providers.usage import KindTotal

DEFAULT_AGENT_NAME = "default"
DEFAULT_DESCRIPTION = "The workspace's general assistant."
DEFAULT_TOOLS = [
    "datetime.now",
    "document.query",
    "document.read",
    "document.search",
    "document.summarize",
    "memory.read",
    "memory.search",
    "memory.traverse",
    "web.fetch",
    "workflow.list",
]
"""A new default agent's allowlist: the built-ins up to Low risk, named one by one so a tool
added to a family later is not granted unseen. Existing agents keep theirs."""


AGENT_EVENTS = {"create": "AgentCreated", "update": "AgentUpdated", "delete": "AgentDeleted"}
"""Bus events of an agent's lifecycle (no hub forwards them; webhooks deliver them)."""


def _announce(db: AsyncSession, agent: Agent, change: str) -> None:
    after_commit(
        db,
        Event(
            AGENT_EVENTS[change],
            {"agentId": agent.id, "name": agent.name},
            tenant_id=agent.tenant_id,
            audience=Audience(),
        ),
    )


LIVE = TenantList(cast(Table, Agent.__table__), Agent.deleted_at.is_(None))
"""The session tenant's agents that are not deleted, a page at a time (Core rows, see
`platform/listing.py`): the list route's read."""


def live() -> Select[Agent]:
    """The session tenant's agents that are not deleted."""
    return select(Agent).where(Agent.deleted_at.is_(None))


def is_live(agent_id: ColumnElement[str] | InstrumentedAttribute[str]) -> ColumnElement[bool]:
    """A clause for another domain's query: the agent `agent_id` names is live (in the tenant,
    not deleted), so that query need not look it up on its own."""
    return live().where(Agent.id == agent_id).exists()


def _key(name: str) -> str:
    return name.strip().casefold()


async def get(db: AsyncSession, agent_id: str, *, for_update: bool = False) -> Agent:
    """A live agent of the session's tenant; deleted, missing or foreign ones are 404."""
    stmt = live().where(Agent.id == agent_id)
    agent = await db.scalar(stmt.with_for_update() if for_update else stmt)
    if agent is None:
        raise NotFound("No such agent.", {"agentId": agent_id})
    return agent


async def by_id_or_name(db: AsyncSession, ref: str) -> Agent:
    """A live agent of the session's tenant by id, else by name (names are unique in a tenant,
    case-insensitively); a 404 says where the ids are."""
    agent = await db.scalar(live().where(Agent.id == ref))
    if agent is None:
        agent = await db.scalar(live().where(Agent.name_key == _key(ref)))
    if agent is None:
        raise NotFound(
            f"No agent with the id or name {ref!r}; GET /api/agents (or `sophon agents list`) "
            "lists the agents with their ids.",
            {"agentId": ref},
        )
    return agent


async def get_any(db: AsyncSession, agent_id: str) -> Agent | None:
    """An agent of the session's tenant even if deleted (for tasks and sessions that refer to
    it); None when it never existed here."""
    return await db.get(Agent, agent_id)


def _heartbeat_due(now: datetime) -> ColumnElement[bool]:
    return and_(
        Agent.heartbeat_enabled.is_(True),
        or_(Agent.heartbeat_next_at.is_(None), Agent.heartbeat_next_at <= now),
    )


async def heartbeats_due(db: AsyncSession, now: datetime) -> list[tuple[str, str]]:
    """(agent id, tenant id) of every tenant's live agent whose heartbeat is due at `now`."""
    stmt = (
        select(Agent.id, Agent.tenant_id)
        .where(_heartbeat_due(now), Agent.deleted_at.is_(None))
        .execution_options(**ALL_TENANTS)
    )
    return [(str(a), str(t)) for a, t in (await db.execute(stmt)).all()]


@exempt("the scheduler's bookkeeping: the heartbeat's task records the run")
async def claim_heartbeat(db: AsyncSession, agent_id: str, now: datetime) -> Agent | None:
    """The agent, once this caller moved its next heartbeat on by its interval; None when it is
    gone or another replica took this tick (a conditional UPDATE decides)."""
    agent = await db.get(Agent, agent_id)
    if agent is None:
        return None
    claim = (
        update_rows(Agent)
        .where(Agent.id == agent_id, _heartbeat_due(now))
        .values(
            heartbeat_next_at=now + timedelta(minutes=agent.heartbeat_interval_minutes),
            heartbeat_last_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if (await db.execute(claim)).rowcount != 1:  # type: ignore[attr-defined]
        return None
    return agent


async def default_agent(db: AsyncSession) -> Agent | None:
    return await db.scalar(live().where(Agent.is_default.is_(True)))


async def _refuse_taken(db: AsyncSession, name: str, keep: str | None = None) -> None:
    stmt = live().where(Agent.name_key == _key(name))
    if keep is not None:
        stmt = stmt.where(Agent.id != keep)
    if await db.scalar(stmt) is not None:
        raise Conflict(f"An agent named '{name.strip()}' already exists.", {"name": name.strip()})


async def _insert(db: AsyncSession, agent: Agent) -> None:
    try:
        async with db.begin_nested():  # the unique index settles a race the pre-check missed
            db.add(agent)
            await db.flush()
    except IntegrityError:
        raise Conflict(
            f"An agent named '{agent.name}' already exists.", {"name": agent.name}
        ) from None


def _heartbeat_columns(body: AgentIn | AgentPatchIn) -> dict[str, Any]:
    if body.heartbeat is None:
        return {}
    hours = body.heartbeat.active_hours
    interval = body.heartbeat.interval_minutes
    return {
        "heartbeat_enabled": body.heartbeat.enabled,
        "heartbeat_interval_minutes": interval,
        "heartbeat_active_hours": hours.model_dump(mode="json") if hours else None,
        # the first run comes one interval after heartbeats are (re)configured
        "heartbeat_next_at": utcnow() + timedelta(minutes=interval),
    }


@audited("agent.create")
async def create(db: AsyncSession, actor: Principal, body: AgentIn) -> Agent:
    """Creates an agent owned by the actor; its Markdown files start empty."""
    name = body.name.strip()
    await _refuse_taken(db, name)
    agent = Agent(
        id=new_id("agt"),
        name=name,
        name_key=_key(name),
        description=body.description,
        model=body.model,
        temperature=body.temperature,
        max_tokens=body.max_tokens,
        planning_mode=body.planning_mode.value,
        budget_daily_tokens=body.budget.daily_tokens,
        tools=[],
        owner_id=actor.user_id,
        is_default=False,
        **_heartbeat_columns(body),
    )
    await _insert(db, agent)
    await audit.record(db, actor, "agent.create", ("agent", agent.id), details={"name": name})
    _announce(db, agent, "create")
    return agent


@audited("agent.update")
async def update(db: AsyncSession, actor: Principal, agent_id: str, body: AgentPatchIn) -> Agent:
    agent = await get(db, agent_id)
    changes = body.model_dump(mode="json", exclude_unset=True, by_alias=True)
    if body.name is not None and _key(body.name) != agent.name_key:
        if agent.is_default:
            raise Conflict("The default agent keeps its name; other features refer to it.")
        await _refuse_taken(db, body.name, keep=agent.id)
        agent.name, agent.name_key = body.name.strip(), _key(body.name)
    elif body.name is not None:
        agent.name = body.name.strip()
    for field in ("description", "model", "temperature", "max_tokens"):
        value = getattr(body, field)
        if value is not None:
            setattr(agent, field, value)
    if body.planning_mode is not None:
        agent.planning_mode = body.planning_mode.value
    for column, value in _heartbeat_columns(body).items():
        setattr(agent, column, value)
    if body.budget is not None:
        agent.budget_daily_tokens = body.budget.daily_tokens
    agent.updated_at = utcnow()
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError:
        raise Conflict(f"An agent named '{agent.name}' already exists.") from None
    await audit.record(db, actor, "agent.update", ("agent", agent.id), details=changes)
    _announce(db, agent, "update")
    return agent


@audited("agent.delete")
async def delete(db: AsyncSession, actor: Principal, agent_id: str) -> None:
    """Soft-deletes the agent: it disappears from the API and frees its name, while whatever
    refers to it by id (tasks, sessions) can still read it through `get_any`. Its files and
    their versions stay on disk and in the database."""
    agent = await get(db, agent_id, for_update=True)
    if agent.is_default:
        raise Conflict("The default agent can't be deleted.")
    agent.deleted_at = agent.updated_at = utcnow()
    await db.flush()
    await tasks.cancel_for_agent(db, agent.id)
    await audit.record(db, actor, "agent.delete", ("agent", agent.id), details={"name": agent.name})
    _announce(db, agent, "delete")


@audited("agent.tools.update")
async def set_tools(
    db: AsyncSession, actor: Principal, registry: ToolRegistry, agent_id: str, tools: list[str]
) -> tuple[Agent, list[str]]:
    """Replaces the allowlist (exact names and `family.*` globs); every entry must match
    something in the catalog. Returns the agent and the tools it grants."""
    agent = await get(db, agent_id)
    patterns = list(dict.fromkeys(t.strip() for t in tools))
    try:
        effective = registry.expand(patterns)
    except UnknownTools as unknown:
        raise ValidationFailed(
            f"No tool matches: {', '.join(unknown.patterns)}.", {"unknown": unknown.patterns}
        ) from None
    before = list(agent.tools)
    agent.tools = patterns
    agent.updated_at = utcnow()
    await db.flush()
    await audit.record(
        db,
        actor,
        "agent.tools.update",
        ("agent", agent.id),
        details={"before": before, "after": patterns},
    )
    return agent, effective


def effective_tools(registry: ToolRegistry, agent: Agent) -> list[str]:
    """The tools the allowlist grants now; entries whose tools have since left the catalog
    (an uninstalled skill, a disconnected MCP server) simply grant nothing."""
    granted: set[str] = set()
    for pattern in agent.tools:
        try:
            granted.update(registry.expand([pattern]))
        except UnknownTools:
            continue
    return sorted(granted)


@exempt("seeding: every start-up and each new tenant make the default agent")
async def ensure_default_agent(db: AsyncSession, data: Path | None) -> Agent:
    """Makes the session tenant's `default` agent with a starter SOUL.md if it has none; idempotent
    (called at every start-up and when a tenant is created). Without `data` the file is written
    on the first access through the API (see `persona`)."""
    existing = await default_agent(db)
    if existing is not None:
        return existing
    agent = Agent(
        id=new_id("agt"),
        name=DEFAULT_AGENT_NAME,
        name_key=DEFAULT_AGENT_NAME,
        description=DEFAULT_DESCRIPTION,
        tools=list(DEFAULT_TOOLS),
        is_default=True,
    )
    taken = await db.scalar(live().where(Agent.name_key == DEFAULT_AGENT_NAME))
    if taken is not None:  # an agent already took the name: it becomes the default
        taken.is_default = True
        await db.flush()
        return taken
    try:
        async with db.begin_nested():
            db.add(agent)
            await db.flush()
    except IntegrityError:  # another replica made it at the same moment
        made = await default_agent(db)
        if made is None:
            raise
        return made
    content = files.DEFAULT_SOUL
    db.add(
        AgentFileVersion(
            id=new_id("afv"),
            agent_id=agent.id,
            kind=files.FileKind.SOUL.value,
            version=1,
            content=content,
            sha256=files.sha256_of(content),
            actor_kind="system",
        )
    )
    await db.flush()
    if data is not None:
        await files.write_file(data, agent.id, files.FileKind.SOUL, content)
    return agent


async def deleted_ids(db: AsyncSession, agent_ids: set[str]) -> set[str]:
    """Which of these agents are deleted (for lists that mark them)."""
    if not agent_ids:
        return set()
    stmt = select(Agent.id).where(Agent.id.in_(agent_ids), Agent.deleted_at.is_not(None))
    return set((await db.scalars(stmt)).all())


async def usage_since(db: AsyncSession, agent_id: str, since: datetime) -> list[KindTotal]:
    """The live agent's model usage from `since` on, by kind (404 for an unknown agent)."""
    from sophon.providers import usage  # the model layer is not loaded at start-up

    await get(db, agent_id)
    return await usage.agent_totals(db, agent_id, since)
