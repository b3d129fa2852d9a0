"""`/api/tools`: the tool catalog (public: the list, not the power to call)."""

from __future__ import annotations

from sophon.platform.access import api_router

router = api_router("/tools", tags=["Tools"])
