"""`/api/memory`: entries (with versions), search, the entity graph, daily logs, forgetting."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import Query, Response, status

from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.identity.guard import PrincipalDep, requires, requires_any
from sophon.memory import settings_service
from sophon.memory.entries import service as entries
from sophon.memory.entries.access import Actor
from sophon.memory.entries.service import EntryFilter
from sophon.memory.graph import traverse
from sophon.memory.learning import daily_logs, forgetting
from sophon.memory.models import MemoryEntry
from sophon.memory.schemas import (
    AgentMemorySettings,
    AgentMemorySettingsIn,
    Category,
    DailyLogsOut,
    EntryIn,
    EntryOut,
    EntryPatchIn,
    EntryVersionOut,
    ForgetAccepted,
    GraphOut,
    Scope,
    SearchHit,
    SearchOut,
)
from sophon.memory.search import service as searching
from sophon.memory.search import vectors
from sophon.memory.views import entries_out, graph_out, one_out, version_out
from sophon.platform.access import api_router
from sophon.platform.pagination import Page, page_in_memory
from sophon.platform.permissions import Permission as P
from sophon.platform.schemas import VersionNumber, error_responses

router = api_router("/memory", tags=["Memory"])
ONE = error_responses(404)
WRITE = error_responses(403, 404, 413, 422)
ScopeQ = Annotated[Scope | None, Query(description="`user` or `agent`.")]
CategoryQ = Annotated[Category | None, Query(description="`fact`, `preference`, `observation`.")]
AgentQ = Annotated[str | None, Query(alias="agent", max_length=40, description="An agent id.")]
# one's own memories (and the agents') with View/EditMemory, everyone's with ManageMemory
read_memory = requires_any(P.VIEW_MEMORY, P.MANAGE_MEMORY)
write_memory = requires_any(P.EDIT_MEMORY, P.MANAGE_MEMORY)


@router.get("/entries", operation_id="listMemoryEntries")
@read_memory
async def list_entries(
    db: DbDep,
    gateway: GatewayDep,
    page: PageDep,
    principal: PrincipalDep,
    scope: ScopeQ = None,
    category: CategoryQ = None,
    agent: AgentQ = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    text: Annotated[str | None, Query(max_length=200, description="Substring of content.")] = None,
) -> Page[EntryOut]:
    """The memories the caller may see, newest first, with filters."""
    where = EntryFilter(
        scope=scope.value if scope else None,
        category=category.value if category else None,
        agent_id=agent,
        tag=tag,
        text=text,
    )
    list_key = f"memory:{principal.user_id}:{where}"
    rows, cursor, more = await gateway.paginator.page(
        db, entries.listing(Actor.of(principal), where), [MemoryEntry.id], page, scope=list_key
    )
    return Page[EntryOut](items=await entries_out(db, rows), next_cursor=cursor, has_more=more)


@router.post(
    "/entries",
    operation_id="createMemoryEntry",
    status_code=status.HTTP_201_CREATED,
    responses=WRITE,
)
@write_memory
async def create_entry(
    body: EntryIn, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> EntryOut:
    """Saves a memory; it is searchable at once (lexically) and linked to the entities it
    mentions; its vector follows from a job. Content over 32 KiB is refused with 413."""
    embed = vectors.enabled(gateway.settings)
    return await one_out(db, await entries.create(db, Actor.of(principal), body, embed=embed))


@router.get("/entries/{entry_id}", operation_id="getMemoryEntry", responses=ONE)
@read_memory
async def get_entry(entry_id: str, db: DbDep, principal: PrincipalDep) -> EntryOut:
    """One memory with its entities."""
    return await one_out(db, await entries.get(db, Actor.of(principal), entry_id))


@router.patch("/entries/{entry_id}", operation_id="updateMemoryEntry", responses=WRITE)
@write_memory
async def update_entry(
    entry_id: str, body: EntryPatchIn, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> EntryOut:
    """Changes the fields sent; the previous state is kept as a version."""
    embed = vectors.enabled(gateway.settings)
    entry = await entries.update_entry(db, Actor.of(principal), entry_id, body, embed=embed)
    return await one_out(db, entry)


@router.delete(
    "/entries/{entry_id}",
    operation_id="deleteMemoryEntry",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(403, 404),
)
@write_memory
async def delete_entry(entry_id: str, db: DbDep, principal: PrincipalDep) -> Response:
    """Takes the memory out of use (lists, search, context, graph); its versions are kept so
    the deletion can be traced. To erase it everywhere, use `/forget`."""
    await entries.delete_entry(db, Actor.of(principal), entry_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/entries/{entry_id}/versions", operation_id="listMemoryEntryVersions", responses=ONE)
@read_memory
async def list_versions(
    entry_id: str, db: DbDep, principal: PrincipalDep, gateway: GatewayDep, page: PageDep
) -> Page[EntryVersionOut]:
    """Every saved state of the memory, newest first, each with who made it."""
    rows = await entries.versions(db, Actor.of(principal), entry_id)
    listed = [version_out(v) for v in rows]
    scope = f"memory-versions:{entry_id}"
    return page_in_memory(gateway.paginator, listed, page, scope, lambda v: str(v.version))


@router.post(
    "/entries/{entry_id}/versions/{version}/restore",
    operation_id="restoreMemoryEntryVersion",
    responses=error_responses(403, 404),
)
@write_memory
async def restore_version(
    entry_id: str, version: VersionNumber, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> EntryOut:
    """Puts an earlier state back (itself a new version): undoing a poisoned change."""
    embed = vectors.enabled(gateway.settings)
    entry = await entries.restore(db, Actor.of(principal), entry_id, version, embed=embed)
    return await one_out(db, entry)


@router.post(
    "/entries/{entry_id}/forget",
    operation_id="forgetMemoryEntry",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(403, 404),
)
@write_memory
async def forget_entry(entry_id: str, db: DbDep, principal: PrincipalDep) -> ForgetAccepted:
    """Asks to erase the memory everywhere; it happens when the approval is approved."""
    approval = await forgetting.request_forget(db, principal, entry_id)
    return ForgetAccepted(approval_id=approval.id)


@router.post(
    "/agents/{agent_id}/forget-all",
    operation_id="forgetAllAgentMemory",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(403, 404),
)
@requires(P.MANAGE_MEMORY)
async def forget_all(agent_id: str, db: DbDep, principal: PrincipalDep) -> ForgetAccepted:
    """Asks to erase every agent-scoped memory of the agent (Critical approval)."""
    approval = await forgetting.request_forget_all(db, principal, agent_id)
    return ForgetAccepted(approval_id=approval.id)


@router.get("/search", operation_id="searchMemory")
@read_memory
async def search(
    db: DbDep,
    gateway: GatewayDep,
    principal: PrincipalDep,
    q: Annotated[str, Query(min_length=1, max_length=1000)],
    scope: ScopeQ = None,
    category: CategoryQ = None,
    agent: AgentQ = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> SearchOut:
    """Ranked memories for a query, with scores and highlighted snippets."""
    where = EntryFilter(
        scope=scope.value if scope else None,
        category=category.value if category else None,
        agent_id=agent,
    )
    nearest = vectors.vector_search(gateway.settings)
    hits, mode = await searching.search(db, Actor.of(principal), q, where, limit, nearest)
    shaped = await entries_out(db, [h.entry for h in hits])
    items = [
        SearchHit(entry=e, score=h.score, snippet=h.snippet, matched=h.matched)
        for e, h in zip(shaped, hits, strict=True)
    ]
    return SearchOut(items=items, query=q, mode=mode)


@router.get("/graph", operation_id="getMemoryGraph", responses=error_responses(404, 422))
@read_memory
async def get_graph(
    db: DbDep,
    principal: PrincipalDep,
    entity: Annotated[str, Query(min_length=1, max_length=200, description="Id or name.")],
    depth: Annotated[int, Query(ge=1, le=3)] = 1,
    at: Annotated[
        datetime | None, Query(description="Only relations valid at this instant.")
    ] = None,
) -> GraphOut:
    """The entity and what is connected to it, up to `depth` hops (1-3)."""
    found = await traverse.traverse(db, Actor.of(principal), entity, depth, at)
    return graph_out(found)


@router.get("/daily-logs", operation_id="listDailyLogs", responses=error_responses(404))
@read_memory
async def list_daily_logs(
    db: DbDep,
    principal: PrincipalDep,
    day: Annotated[date | None, Query(alias="date", description="UTC day; default today.")] = None,
    agent: AgentQ = None,
) -> DailyLogsOut:
    """What each agent did that day (yours only, or everyone's with ManageMemory)."""
    logs = await daily_logs.for_day(db, Actor.of(principal), day, agent)
    return DailyLogsOut(items=logs)


@router.get("/agents/{agent_id}/settings", operation_id="getAgentMemorySettings", responses=ONE)
@read_memory
async def get_settings(agent_id: str, db: DbDep) -> AgentMemorySettings:
    """The agent's memory switches (automatic extraction)."""
    return await settings_service.get(db, agent_id)


@router.put(
    "/agents/{agent_id}/settings",
    operation_id="putAgentMemorySettings",
    responses=error_responses(404),
)
@requires(P.MANAGE_MEMORY)
async def put_settings(
    agent_id: str, body: AgentMemorySettingsIn, db: DbDep, principal: PrincipalDep
) -> AgentMemorySettings:
    """Turns automatic memory extraction on or off for the agent."""
    return await settings_service.put(db, principal, agent_id, body.extraction_enabled)
