"""`/api/tools`: the tool catalog (public: the list, not the power to call). A caller who sends
a credential also sees its tenant's bridged tools (`mcp.<server>.<tool>`)."""

from __future__ import annotations

import asyncio

from fastapi import Request

from sophon.deps import GatewayDep, PageDep
from sophon.gateway import Gateway
from sophon.identity.guard import current_principal
from sophon.platform.access import api_router, public
from sophon.platform.errors import NotAuthorized, Unauthenticated
from sophon.platform.pagination import Page
from sophon.tools.schemas import ToolOut
from sophon.tools.views import tool_out

router = api_router("/tools", tags=["Tools"])


async def _caller_tenant(request: Request, gateway: Gateway) -> str | None:
    """The tenant of the caller's credential, when there is a valid one (else None)."""
    if "authorization" not in request.headers and not gateway.settings.auto_admin:
        return None
    async with gateway.db.transaction(readonly=True) as db:
        try:
            return (await current_principal(request, db)).tenant_id
        except (Unauthenticated, NotAuthorized):
            return None


@router.get("", operation_id="listTools")
@public
async def list_tools(request: Request, gateway: GatewayDep, page: PageDep) -> Page[ToolOut]:
    """Every tool this Gateway offers, by name, with its argument schema and risk level."""
    catalog = gateway.tools.for_tenant(await _caller_tenant(request, gateway))
    tenant = "" if catalog is gateway.tools else "t"
    tools, cursor, more = gateway.paginator.page_list(
        catalog.all(), page, f"tools{tenant}", lambda tool: tool.name
    )
    # Availability probes may run a process (the sandbox check): off the event loop.
    reasons = await asyncio.to_thread(lambda: [tool.unavailable() for tool in tools])
    return Page[ToolOut](
        items=[tool_out(tool, reason) for tool, reason in zip(tools, reasons, strict=True)],
        next_cursor=cursor,
        has_more=more,
    )
