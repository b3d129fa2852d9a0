"""`/api/agents`: agents, their persona files (with history) and tool allowlists.

Persona files are served at `/api/agents/{id}/soul`, `/boot`, `/heartbeat`, `/tools-guide`
(TOOLS.md) and `/agents-guide` (AGENTS.md), and generically at `/api/agents/{id}/files/{kind}`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Header, Query, Request, Response, status

from sophon.agents import persona
from sophon.agents import service as agents
from sophon.agents.files import FileKind
from sophon.agents.schemas import (
    AgentFileOut,
    AgentFileVersionOut,
    AgentIn,
    AgentOut,
    AgentPatchIn,
    ToolsIn,
    ToolsOut,
    UsageKindOut,
    UsageOut,
)
from sophon.agents.views import FILE_BODY, agent_out, file_content, file_out, version_out
from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.identity.guard import PrincipalDep, requires
from sophon.platform.access import api_router
from sophon.platform.clock import utcnow
from sophon.platform.pagination import Page
from sophon.platform.permissions import Permission as P
from sophon.platform.schemas import VersionNumber, error_responses

router = api_router("/agents", tags=["Agents"])
AgentPage = Page[AgentOut]  # parametrized once, not on every request
VersionPage = Page[AgentFileVersionOut]
manage_agents = requires(P.MANAGE_AGENTS)
view_agents = requires(P.VIEW_AGENTS)


ONE = error_responses(404)
CHANGE = error_responses(404, 409)
FILE_WRITE = error_responses(400, 404, 409, 413)
IfMatch = Annotated[
    str | None,
    Header(description="The ETag you read; a stale one is refused with 409 `conflict`."),
]


@router.get("", operation_id="listAgents")
@view_agents
async def list_agents(db: DbDep, gateway: GatewayDep, page: PageDep) -> AgentPage:
    """The tenant's agents, newest first (deleted ones are gone from here)."""
    rows, cursor, more = await agents.LIVE.page(db, gateway.paginator, page, "agents")
    return AgentPage(items=[agent_out(a) for a in rows], next_cursor=cursor, has_more=more)


@router.post(
    "",
    operation_id="createAgent",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409),
)
@manage_agents
async def create_agent(body: AgentIn, db: DbDep, principal: PrincipalDep) -> AgentOut:
    """Creates an agent; its name is unique in the tenant (409 when taken)."""
    return agent_out(await agents.create(db, principal, body))


@router.get("/{agent_id}", operation_id="getAgent", responses=ONE)
@view_agents
async def get_agent(agent_id: str, db: DbDep) -> AgentOut:
    """One agent of the tenant."""
    return agent_out(await agents.get(db, agent_id))


@router.get("/{agent_id}/usage", operation_id="getAgentUsage", responses=ONE)
@view_agents
async def get_usage(
    agent_id: str,
    db: DbDep,
    days: Annotated[int, Query(ge=1, le=366, description="How many days back.")] = 30,
) -> UsageOut:
    """The agent's model calls and tokens over the last `days` days, by kind: `chat` (its turns)
    and `memory` (learning from its sessions, batched, and other memory work)."""
    since = utcnow() - timedelta(days=days)
    kinds = await agents.usage_since(db, agent_id, since)
    return UsageOut(
        agent_id=agent_id,
        since=since,
        input_tokens=sum(k.input_tokens for k in kinds),
        output_tokens=sum(k.output_tokens for k in kinds),
        by_kind=[UsageKindOut(**vars(k)) for k in kinds],
    )


@router.patch("/{agent_id}", operation_id="updateAgent", responses=CHANGE)
@manage_agents
async def update_agent(
    agent_id: str, body: AgentPatchIn, db: DbDep, principal: PrincipalDep
) -> AgentOut:
    """Changes the fields sent; the default agent keeps its name."""
    return agent_out(await agents.update(db, principal, agent_id, body))


@router.delete(
    "/{agent_id}",
    operation_id="deleteAgent",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=CHANGE,
)
@manage_agents
async def delete_agent(agent_id: str, db: DbDep, principal: PrincipalDep) -> Response:
    """Deletes an agent (soft: sessions keep showing it; its name is free again); not the
    default agent (409)."""
    await agents.delete(db, principal, agent_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{agent_id}/tools", operation_id="getAgentTools", responses=ONE)
@view_agents
async def get_tools(agent_id: str, db: DbDep, gateway: GatewayDep) -> ToolsOut:
    """The agent's tool allowlist and the catalog tools it grants now."""
    agent = await agents.get(db, agent_id)
    return ToolsOut(
        tools=agent.tools,
        effective=agents.effective_tools(gateway.tools.for_tenant(agent.tenant_id), agent),
    )


@router.put("/{agent_id}/tools", operation_id="setAgentTools", responses=ONE)
@manage_agents
async def set_tools(
    agent_id: str, body: ToolsIn, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> ToolsOut:
    """Replaces the allowlist: exact tool names and `family.*` globs; entries matching nothing
    in the catalog are refused (422, `details.unknown`)."""
    agent, effective = await agents.set_tools(
        db, principal, gateway.tools.for_tenant(principal.tenant_id), agent_id, body.tools
    )
    return ToolsOut(tools=agent.tools, effective=effective)


async def _read_file(
    agent_id: str, kind: FileKind, db: DbDep, gateway: GatewayDep, response: Response
) -> AgentFileOut:
    state = await persona.read(db, gateway.db, gateway.settings.data, agent_id, kind)
    response.headers["ETag"] = state.etag
    return file_out(state)


async def _write_file(
    agent_id: str,
    kind: FileKind,
    request: Request,
    db: DbDep,
    gateway: GatewayDep,
    principal: PrincipalDep,
    response: Response,
    if_match: str | None,
) -> AgentFileOut:
    content = file_content(request.headers.get("content-type", ""), await request.body())
    state = await persona.write(
        db, principal, gateway.settings.data, agent_id, kind, content, if_match
    )
    response.headers["ETag"] = state.etag
    return file_out(state)


@router.get("/{agent_id}/files/{kind}", operation_id="getAgentFile", responses=ONE)
@view_agents
async def get_file(
    agent_id: str, kind: FileKind, db: DbDep, gateway: GatewayDep, response: Response
) -> AgentFileOut:
    """One of the agent's Markdown files: content, ETag and when it last changed."""
    return await _read_file(agent_id, kind, db, gateway, response)


@router.put(
    "/{agent_id}/files/{kind}",
    operation_id="putAgentFile",
    openapi_extra=FILE_BODY,
    responses=FILE_WRITE,
)
@manage_agents
async def put_file(
    agent_id: str,
    kind: FileKind,
    request: Request,
    db: DbDep,
    gateway: GatewayDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatch = None,
) -> AgentFileOut:
    """Replaces one of the agent's Markdown files (JSON `{content}` or a text/markdown body)."""
    return await _write_file(agent_id, kind, request, db, gateway, principal, response, if_match)


@router.get(
    "/{agent_id}/files/{kind}/versions", operation_id="listAgentFileVersions", responses=ONE
)
@view_agents
async def list_file_versions(
    agent_id: str,
    kind: FileKind,
    db: DbDep,
    gateway: GatewayDep,
    page: PageDep,
    content: Annotated[bool, Query(description="Include each version's content.")] = False,
) -> VersionPage:
    """The file's saved versions, newest first, each with its actor (a user, or `disk`)."""
    rows, cursor, more = await persona.versions_page(
        db, gateway.db, gateway.paginator, gateway.settings.data, agent_id, kind, page
    )
    items = [version_out(row, content) for row in rows]
    return VersionPage(items=items, next_cursor=cursor, has_more=more)


@router.post(
    "/{agent_id}/files/{kind}/versions/{version}/restore",
    operation_id="restoreAgentFileVersion",
    responses=ONE,
)
@manage_agents
async def restore_file_version(
    agent_id: str,
    kind: FileKind,
    version: VersionNumber,
    db: DbDep,
    gateway: GatewayDep,
    principal: PrincipalDep,
    response: Response,
) -> AgentFileOut:
    """Makes an earlier version current again; the restore is itself a new version."""
    state = await persona.restore(db, principal, gateway.settings.data, agent_id, kind, version)
    response.headers["ETag"] = state.etag
    return file_out(state)


def _named_file_routes(kind: FileKind) -> None:
    """`GET|PUT /api/agents/{id}/<kind>`: the same as `/files/<kind>`, under the short names."""
    filename = kind.filename

    async def read(
        agent_id: str, db: DbDep, gateway: GatewayDep, response: Response
    ) -> AgentFileOut:
        return await _read_file(agent_id, kind, db, gateway, response)

    async def write(
        agent_id: str,
        request: Request,
        db: DbDep,
        gateway: GatewayDep,
        principal: PrincipalDep,
        response: Response,
        if_match: IfMatch = None,
    ) -> AgentFileOut:
        return await _write_file(
            agent_id, kind, request, db, gateway, principal, response, if_match
        )

    read.__doc__ = f"The agent's {filename}: content, ETag and when it last changed."
    write.__doc__ = f"Replaces the agent's {filename} (JSON `{{content}}` or text/markdown)."
    path = f"/{{agent_id}}/{kind.value}"
    _add(path, "GET", f"getAgent{kind.label}", view_agents(read), responses=ONE)
    _add(
        path,
        "PUT",
        f"putAgent{kind.label}",
        manage_agents(write),
        openapi_extra=FILE_BODY,
        responses=FILE_WRITE,
    )


def _add(
    path: str,
    method: str,
    operation_id: str,
    endpoint: Callable[..., Awaitable[AgentFileOut]],
    **extra: object,
) -> None:
    router.add_api_route(
        path,
        endpoint,
        methods=[method],
        operation_id=operation_id,
        response_model=AgentFileOut,
        summary=f"{method.capitalize()} {operation_id.removeprefix(method.lower() + 'Agent')}",
        **extra,  # type: ignore[arg-type]
    )


for _kind in FileKind:
    _named_file_routes(_kind)
