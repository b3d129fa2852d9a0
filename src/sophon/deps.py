"""FastAPI dependencies shared by every router."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.gateway import Gateway
from sophon.platform.pagination import PageParams, page_params

if TYPE_CHECKING:
    from sophon.runtime.engine import AgentRuntime


def gateway_of(request: Request) -> Gateway:
    """The Gateway serving the request. Shared dependencies read it here instead of depending on
    `get_gateway`: FastAPI solves a dependency's own dependencies again at every use of it, cached
    or not, so each extra level costs every request."""
    gateway: Gateway = request.app.state.gateway
    return gateway


async def get_gateway(request: Request) -> Gateway:  # async: a plain def would cost a thread hop
    return gateway_of(request)


def agent_runtime_of(request: Request) -> AgentRuntime | None:
    """The agent runtime, when this process runs turns (set by the app's lifespan)."""
    runtime: AgentRuntime | None = getattr(request.app.state, "runtime", None)
    return runtime


def background_start_of(request: Request) -> dict[str, str | None]:
    """How the parts started after the Gateway answers (MCP links, skills, the agent runtime,
    webhook deliveries) are doing: `starting`, `ok`, or `failed` with the error. A failure
    leaves the API serving, so an operator can see it here and in the log."""
    started: asyncio.Task[None] | None = getattr(request.app.state, "started", None)
    if started is None or not started.done():
        return {"status": "starting", "error": None}
    if started.cancelled():
        return {"status": "failed", "error": "cancelled"}
    if (error := started.exception()) is not None:
        return {"status": "failed", "error": f"{type(error).__name__}: {error}"[:500]}
    return {"status": "ok", "error": None}


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one transaction, committed when the handler returns (before the response is
    sent) and rolled back when it raises. Reads (GET) run in a read transaction; the auth guard
    sets the session's tenant."""
    readonly = request.method in ("GET", "HEAD")
    async with gateway_of(request).db.transaction(readonly=readonly) as session:
        yield session


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
DbDep = Annotated[AsyncSession, Depends(get_db, scope="function")]
PageDep = Annotated[PageParams, Depends(page_params)]
