"""Fixtures: a scripted loopback server, a plain httpx client and a sleep that never waits."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.llm.fakes import FakeServer, SleepRecorder


@pytest.fixture
def fake(fake_server: FakeServer) -> FakeServer:
    fake_server.reset()
    return fake_server


@pytest.fixture(scope="session")
def tls() -> ssl.SSLContext:
    return httpx.create_ssl_context()  # built once: loading CA certificates is slow


@pytest.fixture
async def http(tls: ssl.SSLContext) -> AsyncIterator[httpx.AsyncClient]:
    # trust_env=False: no proxy from the environment may intercept loopback traffic.
    async with httpx.AsyncClient(trust_env=False, verify=tls) as client:
        yield client


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()
