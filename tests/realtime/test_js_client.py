"""The official JavaScript client, `@microsoft/signalr` under Node.js, unchanged: negotiate,
WebSockets, Server-Sent Events, Long Polling, the fallback to SSE when WebSockets are blocked,
a full chat turn with streamed chunks, and reconnecting after the Gateway restarts."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from sophon.app import create_app
from sophon.settings import Settings
from tests.identity_helpers import Caller, setup_admin
from tests.realtime.live import Live, serve_live

JS = Path(__file__).parent / "js"
NODE = shutil.which("node")

# the wire protocol does not depend on the database: SQLite only keeps the suite fast (the
# hub tests that read and write run on both databases)
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

pytestmark = [
    SQLITE_ONLY,
    pytest.mark.skipif(
        os.environ.get("CI", "").lower() != "true"
        and (NODE is None or not (JS / "node_modules" / "@microsoft" / "signalr").is_dir()),
        reason="needs Node.js and npm (`make test` installs the client; under CI it must run)",
    ),
]


class NodeClient:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, scenario: str, url: str, token: str, transport: str = "") -> NodeClient:
        assert NODE is not None
        args = [scenario, url, token, *([transport] if transport else [])]
        process = await asyncio.create_subprocess_exec(
            NODE, str(JS / "client.mjs"), *args,
            cwd=JS, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(process)

    async def step(self, name: str, within: float = 30) -> dict[str, Any]:
        assert self.process.stdout is not None
        async with asyncio.timeout(within):
            while True:
                line = await self.process.stdout.readline()
                if not line:
                    err = await self.process.stderr.read() if self.process.stderr else b""
                    raise AssertionError(f"node ended before {name!r}: {err.decode()}")
                message: dict[str, Any] = json.loads(line)
                assert message["step"] != "failed", message["error"]
                if message["step"] == name:
                    return message

    async def finish(self) -> None:
        async with asyncio.timeout(30):
            assert await self.process.wait() == 0

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


def assert_turn(turn: dict[str, Any]) -> None:
    names = [e["name"] for e in turn["events"]]
    assert names[-1] == "TaskCompleted", names
    assert {"TaskStarted", "StreamChunk", "ReceiveMessage"} <= set(names)
    task_id = turn["accepted"]["taskId"]
    assert {e["payload"]["taskId"] for e in turn["events"] if "taskId" in e["payload"]} == {task_id}
    chunks = "".join(e["payload"]["delta"] for e in turn["events"] if e["name"] == "StreamChunk")
    final = next(e["payload"] for e in turn["events"] if e["name"] == "ReceiveMessage")
    assert chunks == final["content"]
    assert final["content"].startswith("(offline echo model) You said: hello from node")


@pytest.mark.parametrize(
    ("transport", "expected"),
    [
        ("WebSockets", "WebSocketTransport"),
        ("ServerSentEvents", "ServerSentEventsTransport"),
        ("LongPolling", "LongPollingTransport"),
        ("", "WebSocketTransport"),  # the client's own choice
    ],
)
async def test_official_client_on_each_transport(
    live: Live, owner: Caller, transport: str, expected: str
) -> None:
    client = await NodeClient.start("turn", live.url, owner.token, transport)
    try:
        assert (await client.step("connected"))["transport"] == expected
        error = (await client.step("error"))["message"]
        assert "Unknown hub method 'NoSuchMethod'" in error
        assert_turn(await client.step("turn"))
        await client.step("stopped")
        await client.finish()
    finally:
        client.kill()


async def test_falls_back_to_server_sent_events(live: Live, owner: Caller) -> None:
    client = await NodeClient.start("fallback", live.url, owner.token)
    try:
        assert (await client.step("connected"))["transport"] == "ServerSentEventsTransport"
        assert_turn(await client.step("turn"))
        await client.finish()
    finally:
        client.kill()


async def test_reconnects_after_a_gateway_restart(settings: Settings) -> None:
    async with serve_live(create_app(settings)) as first:
        port = int(first.url.rsplit(":", 1)[1])
        admin = await setup_admin(first.http, settings.data)
        client = await NodeClient.start("reconnect", first.url, admin.token)
        await client.step("connected")
    try:
        await client.step("reconnecting")
        async with serve_live(create_app(settings), port=port):
            await client.step("reconnected")
            assert_turn(await client.step("turn"))
            await client.finish()
    finally:
        client.kill()
