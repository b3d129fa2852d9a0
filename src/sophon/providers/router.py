"""`/api/models`: model providers (credentials, routing, tests) and the model catalog."""

from __future__ import annotations

from sophon.platform.access import api_router

router = api_router("/models", tags=["Models"])
