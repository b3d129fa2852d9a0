"""Public endpoints: shallow health and version (the tool catalog joins with the tools issue)."""

from __future__ import annotations

from sophon import API_VERSION, __version__
from sophon.deps import GatewayDep
from sophon.platform.access import api_router, public, unlimited
from sophon.public.schemas import Health, Version

router = api_router(tags=["Public"])


@router.get("/health", operation_id="getHealth")
@unlimited
async def health() -> Health:
    """Shallow health for load balancers (GET is answered by `Edge` before routing)."""
    return Health()


@router.get("/version", operation_id="getVersion")
@public
async def version(gateway: GatewayDep) -> Version:
    """The Gateway version and API version."""
    return Version(version=__version__, commit=gateway.settings.commit, api_version=API_VERSION)
