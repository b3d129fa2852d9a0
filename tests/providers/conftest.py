"""Fixtures: the scripted loopback fake provider server, and the running Gateway's provider
runtime with retries that never wait."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from sophon.gateway import Gateway
from sophon.providers.connect import ProviderRuntime
from tests.llm.fakes import FakeServer, SleepRecorder
from tests.platform.loopback_http import LoopbackOnlyConnector


@pytest.fixture
def fake(fake_server: FakeServer) -> FakeServer:
    fake_server.reset()
    return fake_server


@pytest.fixture
def gateway(app: FastAPI, client: httpx.AsyncClient) -> Gateway:
    """The Gateway the `client` talks to (built by the app's lifespan)."""
    built: Gateway = app.state.gateway
    return built


@pytest.fixture
def connector() -> LoopbackOnlyConnector:
    return LoopbackOnlyConnector()


@pytest.fixture
def runtime(gateway: Gateway, connector: LoopbackOnlyConnector) -> ProviderRuntime:
    """Retries record their delays instead of waiting; every socket goes through a connector
    that fails the test on any non-loopback address and records the attempts."""
    gateway.model_runtime.sleep = SleepRecorder()
    gateway.model_runtime.connector = connector
    return gateway.model_runtime
