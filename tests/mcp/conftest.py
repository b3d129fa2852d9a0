"""Fixtures of the MCP tests: the chat runtime fixtures, a loopback outbound allowance, and the
demo MCP server (`demo_server.py`) over stdio and streamable HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sophon.settings import Settings
from tests.turn_fixtures import agent_id, events, gateway, model

__all__ = ["agent_id", "events", "gateway", "model"]

DEMO = Path(__file__).with_name("demo_server.py")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """As the chat runtime tests have it (`tests/turn_fixtures.py`), and loopback remote MCP
    servers are allowed (the outbound guard refuses them by default)."""
    return settings.model_copy(
        update={
            "task_lease_seconds": 3600,
            "scheduler_poll_seconds": 3600,
            "queue_poll_seconds": 0.5,
            "outbound_allow": "127.0.0.1",
        }
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def http_demo() -> Iterator[str]:
    """The demo server over streamable HTTP on loopback, for the whole run."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(DEMO), "http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/mcp"
    process.terminate()
    process.wait(timeout=10)


def stdio_registration(name: str = "demo", **fields: object) -> dict[str, object]:
    return {
        "name": name,
        "transport": "stdio",
        "command": sys.executable,
        "args": [str(DEMO)],
        **fields,
    }
