"""The memory tools: `memory.search`, `memory.read`, `memory.traverse` (None), `memory.write`
(Medium), `memory.forget` (High) and `memory.forget_all` (Critical). The agent acts for the
user of its session: it sees that user's memories and its own agent scope, and writes there.
High and Critical calls reach these handlers only once the runtime's approval gate let them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Literal

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.identity.users import service as users_service
from sophon.memory.entries import service as entries
from sophon.memory.entries.access import Actor
from sophon.memory.entries.service import EntryFilter
from sophon.memory.graph import traverse
from sophon.memory.learning import forgetting
from sophon.memory.schemas import MAX_CONTENT_BYTES, Category, EntryIn, Scope, SourceIn, SourceType
from sophon.memory.search import service as searching
from sophon.memory.search import vectors
from sophon.platform.errors import DomainError
from sophon.tools.invoke import ToolArguments, ToolContext, ToolResult, builtin_tool
from sophon.tools.registry import RiskLevel, Tool

ScopeArg = Literal["user", "agent"]
CategoryArg = Literal["fact", "preference", "observation"]


class SearchArguments(ToolArguments):
    query: str = Field(min_length=1, max_length=1000, description="What to look for.")
    scope: ScopeArg | None = Field(None, description="Only `user` or only `agent` memories.")
    limit: int = Field(5, ge=1, le=20)


class ReadArguments(ToolArguments):
    id: str = Field(min_length=1, max_length=40, description="A memory id (`mem_…`).")


class TraverseArguments(ToolArguments):
    entity: str = Field(min_length=1, max_length=200, description="Entity id or name.")
    depth: int = Field(1, ge=1, le=3)
    at: str | None = Field(None, description="ISO 8601 instant: only facts true then.")


class WriteArguments(ToolArguments):
    content: str = Field(min_length=1, max_length=MAX_CONTENT_BYTES)
    category: CategoryArg = "fact"
    scope: ScopeArg = Field(
        "user", description="`user`: about the user, for all their agents; `agent`: yours only."
    )
    tags: list[str] = Field(default_factory=list, max_length=32)
    importance: float = Field(0.5, ge=0, le=1)


class ForgetArguments(ToolArguments):
    id: str = Field(min_length=1, max_length=40)


class ForgetAllArguments(ToolArguments):
    pass


class Unavailable(Exception):
    pass


@asynccontextmanager
async def _session(
    context: ToolContext, *, readonly: bool = False
) -> AsyncIterator[tuple[AsyncSession, Actor]]:
    if context.database is None or context.tenant_id is None:
        raise Unavailable("memory is not reachable from here")
    async with context.database.transaction(readonly=readonly, tenant_id=context.tenant_id) as db:
        email = None
        if context.principal_id is not None:
            email = (await users_service.get_member(db, context.principal_id)).email
        yield db, Actor.agent(context.tenant_id, context.principal_id, context.agent_id, email)


def _failed(error: Exception) -> ToolResult:
    if isinstance(error, DomainError):
        return ToolResult.error(error.message, {"code": error.code, **error.details})
    return ToolResult.error(str(error))


async def memory_search(context: ToolContext, args: SearchArguments) -> ToolResult:
    try:
        async with _session(context) as (db, actor):
            hits, mode = await searching.search(
                db,
                actor,
                args.query,
                EntryFilter(scope=args.scope),
                args.limit,
                vectors.vector_search(context.settings),
            )
            await entries.touch(db, [h.entry.id for h in hits])
    except (Unavailable, DomainError) as error:
        return _failed(error)
    if not hits:
        return ToolResult(content="No memory matches.", data={"items": [], "mode": mode})
    lines = [
        f"[{h.entry.id}] ({h.entry.category}, {h.entry.scope}, score {h.score:.2f}) "
        f"{h.entry.content[:300]}"
        for h in hits
    ]
    items = [{"id": h.entry.id, "score": h.score, "content": h.entry.content} for h in hits]
    return ToolResult(content="\n".join(lines), data={"items": items, "mode": mode})


async def memory_read(context: ToolContext, args: ReadArguments) -> ToolResult:
    try:
        async with _session(context) as (db, actor):
            entry = await entries.get(db, actor, args.id)
            await entries.touch(db, [entry.id])
    except (Unavailable, DomainError) as error:
        return _failed(error)
    data = {
        "id": entry.id,
        "content": entry.content,
        "category": entry.category,
        "scope": entry.scope,
        "tags": list(entry.tags),
        "importance": entry.importance,
    }
    return ToolResult(
        content=f"[{entry.id}] ({entry.category}, {entry.scope}) {entry.content}", data=data
    )


async def memory_traverse(context: ToolContext, args: TraverseArguments) -> ToolResult:
    try:
        at = datetime.fromisoformat(args.at.replace("Z", "+00:00")) if args.at else None
        if at is not None and at.tzinfo is None:
            return ToolResult.error("`at` needs a time zone (e.g. 2026-01-01T00:00:00Z).")
    except ValueError:
        return ToolResult.error("`at` is not an ISO 8601 instant.")
    try:
        async with _session(context, readonly=True) as (db, actor):
            found = await traverse.traverse(db, actor, args.entity, args.depth, at)
    except (Unavailable, DomainError) as error:
        return _failed(error)
    names = {i: e.name for i, (e, _d) in found.nodes.items()}
    lines = [
        f"{names[e.subject]} —{e.predicate}→ {names[e.object]}"
        + (f" (until {e.valid_to:%Y-%m-%d})" if e.valid_to else "")
        for e in found.edges.values()
    ]
    data = {
        "nodes": [{"id": i, "name": e.name, "type": e.type} for i, (e, _d) in found.nodes.items()],
        "edges": [
            {"subject": e.subject, "predicate": e.predicate, "object": e.object}
            for e in found.edges.values()
        ],
    }
    return ToolResult(content="\n".join(lines) or "No connections.", data=data)


async def memory_write(context: ToolContext, args: WriteArguments) -> ToolResult:
    try:
        body = EntryIn(
            content=args.content,
            category=Category(args.category),
            scope=Scope(args.scope),
            agent_id=context.agent_id if args.scope == "agent" else None,
            tags=args.tags,
            importance=args.importance,
            source=SourceIn(type=SourceType.CHAT, session_id=context.session_id),
        )
    except ValueError as error:
        return ToolResult.error(f"Invalid memory: {error}")
    try:
        async with _session(context) as (db, actor):
            entry = await entries.create(db, actor, body, embed=vectors.enabled(context.settings))
    except (Unavailable, DomainError) as error:
        return _failed(error)
    return ToolResult(content=f"Saved as {entry.id}.", data={"id": entry.id})


async def memory_forget(context: ToolContext, args: ForgetArguments) -> ToolResult:
    try:
        async with _session(context) as (db, actor):
            entry = await entries.get(db, actor, args.id)
            await entries.require_write(db, actor, entry)
            await forgetting.forget_now(
                db, actor.audit_actor(), [entry.id], sessionId=context.session_id
            )
    except (Unavailable, DomainError) as error:
        return _failed(error)
    return ToolResult(content=f"Forgot {args.id}.", data={"id": args.id})


async def memory_forget_all(context: ToolContext, args: ForgetAllArguments) -> ToolResult:
    del args
    if context.agent_id is None:
        return ToolResult.error("memory.forget_all works on the calling agent's memories only.")
    try:
        async with _session(context) as (db, actor):
            count = await forgetting.forget_agent_now(
                db, actor.audit_actor(), context.agent_id, sessionId=context.session_id
            )
    except (Unavailable, DomainError) as error:
        return _failed(error)
    return ToolResult(content=f"Forgot {count} agent memories.", data={"count": count})


def memory_tools() -> list[Tool]:
    return [
        builtin_tool(
            "memory.search",
            "Searches the user's memories and yours by meaning and keywords; best first.",
            RiskLevel.NONE,
            SearchArguments,
            memory_search,
        ),
        builtin_tool(
            "memory.read", "Reads one memory by id.", RiskLevel.NONE, ReadArguments, memory_read
        ),
        builtin_tool(
            "memory.traverse",
            "Follows the entity graph from a person, organisation, project, place or date.",
            RiskLevel.NONE,
            TraverseArguments,
            memory_traverse,
        ),
        builtin_tool(
            "memory.write",
            "Saves a memory worth keeping: a fact, a preference or an observation.",
            RiskLevel.MEDIUM,
            WriteArguments,
            memory_write,
        ),
        builtin_tool(
            "memory.forget",
            "Erases one memory everywhere, for good.",
            RiskLevel.HIGH,
            ForgetArguments,
            memory_forget,
        ),
        builtin_tool(
            "memory.forget_all",
            "Erases every agent-scoped memory of yours, for good.",
            RiskLevel.CRITICAL,
            ForgetAllArguments,
            memory_forget_all,
        ),
    ]
