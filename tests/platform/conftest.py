from __future__ import annotations

import pytest
from fastapi import FastAPI

from sophon.app import create_app
from sophon.settings import Settings
from tests.platform.probe import router as probe_router


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    application = create_app(settings.model_copy(update={"max_json_body_bytes": 2048}))
    application.include_router(probe_router)
    return application
