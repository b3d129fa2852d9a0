"""`/api/agents`: agents, their persona files and tool allowlists."""

from __future__ import annotations

from sophon.platform.access import api_router

router = api_router("/agents", tags=["Agents"])
