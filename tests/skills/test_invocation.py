"""Skill tools run in a fresh sandbox per call with the manifest's limits: the JSON protocol,
and every way a skill can misbehave comes back as a clear tool error, the Gateway unaffected."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from sophon.gateway import Gateway
from sophon.runtime.sandbox import sandbox_available
from sophon.tools.invoke import ToolContext, ToolResult, run_tool
from tests.identity_helpers import Caller
from tests.skills.skill_helpers import install, package, zip_of

pytestmark = pytest.mark.skipif(not sandbox_available(), reason="needs the bwrap sandbox")

REPLY = 'print(json.dumps({"content": result}))\n'
HEAD = "import json, os, sys\ncall = json.load(sys.stdin)\n"


async def run(gateway: Gateway, name: str, arguments: dict[str, Any]) -> ToolResult:
    tool = gateway.tools.get(name)
    assert tool is not None, name
    return await run_tool(tool, ToolContext(settings=gateway.settings), arguments)


async def skill_with(
    client: httpx.AsyncClient, admin: Caller, name: str, body: str, **sandbox: Any
) -> str:
    limits = {"network": "none", "memoryMb": 128, "cpuSeconds": 5, "timeoutSeconds": 10}
    files = package(name, main=HEAD + body, sandbox=limits | sandbox)
    await install(client, admin, zip_of(files))
    return f"{name}.run"


async def test_the_call_goes_in_on_stdin_and_the_result_comes_back(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway
) -> None:
    await install(client, admin, zip_of(package("echoer")))
    result = await run(gateway, "echoer.run", {"text": "hi"})
    assert (result.is_error, result.content) == (False, 'echo:{"text": "hi"}')
    assert result.data is not None
    assert result.data["exitCode"] == 0
    invalid = await run(gateway, "echoer.run", {"text": 3})
    assert invalid.is_error
    assert "text" in invalid.content
    reported = await skill_with(
        client, admin, "reporter", 'print(json.dumps({"content": "nope", "isError": True}))\n'
    )
    assert (await run(gateway, reported, {"text": "x"})).is_error


async def test_crash_bad_json_timeout_and_oversize_output_are_tool_errors(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway
) -> None:
    cases = {
        "crasher": ("sys.stderr.write('boom details')\nraise SystemExit(3)\n", {}, "crashed"),
        "talker": ("print('hello, not json')\n", {}, "did not answer with JSON"),
        "sleeper": ("import time\ntime.sleep(30)\n", {"timeoutSeconds": 1}, "timed out"),
        "flooder": ("sys.stdout.write('x' * 5_000_000)\n", {}, "more than"),
    }
    for name, (body, sandbox, expected) in cases.items():
        tool = await skill_with(client, admin, name, body, **sandbox)
        result = await run(gateway, tool, {"text": "x"})
        assert result.is_error, (name, result.content)
        assert expected in result.content, (name, result.content)
    crashed = await run(gateway, "crasher.run", {"text": "x"})
    assert "boom details" in crashed.content  # stderr is kept (truncated) in the record
    assert (await run(gateway, "code.lint", {"code": "x = 1\n"})).content == "no issues"


async def test_a_skill_cannot_read_the_data_dir_or_host_files(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway, data_dir: Path
) -> None:
    secret_file = data_dir / "security" / "vault.key"
    assert secret_file.exists()
    body = (
        "found = {}\n"
        f"for path in [{str(secret_file)!r}, {str(data_dir)!r}, '/root', '/etc/shadow', "
        "'/work/main']:\n"
        "    try:\n"
        "        found[path] = sorted(os.listdir(path)) if os.path.isdir(path) else "
        "open(path).read()\n"
        "    except OSError as exc:\n"
        "        found[path] = type(exc).__name__\n"
        "result = json.dumps(found)\n" + REPLY
    )
    tool = await skill_with(client, admin, "snoop", body)
    result = await run(gateway, tool, {"text": "x"})
    assert not result.is_error, result.content
    seen = json.loads(result.content)
    assert seen[str(secret_file)] in ("FileNotFoundError", "PermissionError")
    assert seen[str(data_dir)] in ("FileNotFoundError", "PermissionError")
    assert seen["/etc/shadow"] in ("FileNotFoundError", "PermissionError")


async def test_without_a_host_allowlist_a_skill_has_no_network(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    body = (
        "import socket\nresult = []\n"
        f"for host in [('127.0.0.1', {port}), ('1.1.1.1', 53)]:\n"
        "    try:\n"
        "        socket.create_connection(host, timeout=2).close()\n"
        "        result.append('connected')\n"
        "    except OSError as exc:\n"
        "        result.append(type(exc).__name__)\n"
        "try:\n"
        "    socket.getaddrinfo('example.com', 443)\n"
        "    result.append('resolved')\n"
        "except OSError as exc:\n"
        "    result.append(type(exc).__name__)\n"
        "result = ','.join(result)\n" + REPLY
    )
    try:
        tool = await skill_with(client, admin, "netter", body)
        result = await run(gateway, tool, {"text": "x"})
    finally:
        listener.close()
    assert not result.is_error, result.content
    assert "connected" not in result.content
    assert "resolved" not in result.content


async def test_a_fork_bomb_and_memory_exhaustion_are_contained(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway
) -> None:
    bomb = await skill_with(
        client, admin, "forker", "while True:\n    os.fork()\n", timeoutSeconds=5
    )
    result = await run(gateway, bomb, {"text": "x"})
    assert result.is_error, result.content
    hog = await skill_with(
        client, admin, "hog", "blob = bytearray(2 * 1024 ** 3)\nresult = 'allocated'\n" + REPLY
    )
    result = await run(gateway, hog, {"text": "x"})
    assert result.is_error, result.content
    assert "memory" in result.content
    health = await client.get("/api/health")
    assert health.status_code == 200
    assert not (
        await run(gateway, "csv.query", {"csv": "a\n1\n", "operation": "describe"})
    ).is_error


async def test_the_bundled_skills_work_offline(gateway: Gateway, client: httpx.AsyncClient) -> None:
    lint = await run(gateway, "code.lint", {"code": "import os\n", "select": ["F"]})
    assert lint.content == "1:8 F401 `os` imported but unused"
    formatted = await run(gateway, "code.lint", {"code": "x=[1,2]\n", "action": "format"})
    assert formatted.content == "x = [1, 2]\n"
    fixed = await run(
        gateway, "code.lint", {"code": "import os\nx = 1\n", "action": "fix", "select": ["F"]}
    )
    assert fixed.content.startswith("x = 1\n")
    csv_text = "city,sales\nOslo,10\nRome,5\nOslo,7\n"
    grouped = await run(
        gateway,
        "csv.query",
        {
            "csv": csv_text,
            "operation": "aggregate",
            "groupBy": ["city"],
            "aggregates": [{"fn": "sum", "column": "sales"}, {"fn": "count"}],
        },
    )
    assert grouped.content == "city,sum(sales),count(*)\nOslo,17,2\nRome,5,1\n"
    filtered = await run(
        gateway,
        "csv.query",
        {
            "csv": csv_text,
            "operation": "filter",
            "where": [{"column": "sales", "op": ">", "value": 6}],
        },
    )
    assert filtered.content == "city,sales\nOslo,10\nOslo,7\n"
    described = json.loads(
        (await run(gateway, "csv.query", {"csv": csv_text, "operation": "describe"})).content
    )
    assert described["rows"] == 3
    assert described["columns"][1] == {
        "name": "sales", "nonEmpty": 3, "type": "number", "min": 5.0, "max": 10.0,
        "mean": pytest.approx(22 / 3),
    }  # fmt: skip
    missing = await run(
        gateway, "csv.query", {"csv": csv_text, "operation": "filter", "columns": ["x"]}
    )
    assert missing.is_error


NET_BODY = """\
import socket
def tunnel(target):
    s = socket.create_connection(("127.0.0.1", 3128), timeout=5)
    s.sendall(f"CONNECT {target} HTTP/1.1\\r\\nHost: {target}\\r\\n\\r\\n".encode())
    head = s.recv(4096).decode()
    if not head.startswith("HTTP/1.1 200"):
        return head.split("\\r\\n")[0] + " " + head.split("\\r\\n\\r\\n", 1)[-1]
    s.sendall(b"ping")
    return "tunnel:" + s.recv(100).decode()
port = call["arguments"]["text"]
result = [tunnel(f"{host}:{port}") for host in ("allowed.test", "other.test", "inner.svc.test")]
try:
    socket.create_connection(("127.0.0.1", int(port)), timeout=2)
    result.append("direct:connected")
except OSError as exc:
    result.append("direct:" + type(exc).__name__)
result = json.dumps(result)
"""


async def test_listed_hosts_are_reached_through_the_guarded_egress_proxy_only(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway
) -> None:
    async def pong(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await reader.read(4) == b"ping":
            writer.write(b"pong")
            await writer.drain()
        writer.close()

    async def resolve(host: str) -> list[str]:
        return {"allowed.test": ["127.0.0.1"], "inner.svc.test": ["10.1.2.3"]}.get(host, [])

    server = await asyncio.start_server(pong, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    gateway.skills.outbound_allow = ("127.0.0.1",)  # the operator lets skills reach loopback
    gateway.skills.resolver = resolve
    try:
        tool = await skill_with(
            client, admin, "netted", NET_BODY + REPLY, network=["allowed.test", "*.svc.test"]
        )
        result = await run(gateway, tool, {"text": str(port)})
    finally:
        server.close()
    assert not result.is_error, result.content
    reached, other, private, direct = json.loads(result.content)
    assert reached == "tunnel:pong"
    assert other.startswith("HTTP/1.1 403")
    assert "not in the skill's allowlist" in other
    assert private.startswith("HTTP/1.1 403")
    assert "non-public" in private
    assert direct in ("direct:OSError", "direct:ConnectionRefusedError", "direct:TimeoutError")
