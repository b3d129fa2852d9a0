"""code.execute and os.execute_sandboxed run for real in the bwrap sandbox (skipped without it
unless CI=true); a missing bwrap makes them unavailable; os.execute exists only when enabled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sophon.tools.invoke import ToolContext, run_tool
from sophon.tools.registry import RiskLevel
from tests.tools.tool_helpers import call, needs_sandbox, registry, tool_settings


@needs_sandbox
async def test_code_execute_runs_python_with_stdin_and_reports_the_streams(
    tmp_path: Path,
) -> None:
    code = "import sys\nprint('got', sys.stdin.read())\nprint('oops', file=sys.stderr)\nsys.exit(3)"
    result = await call(
        tool_settings(tmp_path), "code.execute", {"code": code, "stdin": "input text"}
    )
    assert not result.is_error  # a failing program is a result, not a tool failure
    assert result.data is not None
    assert result.data["exitCode"] == 3
    assert result.data["stdout"] == "got input text\n"
    assert result.data["stderr"] == "oops\n"
    assert result.content.splitlines() == [
        "exit code: 3",
        "stdout:",
        "got input text",
        "stderr:",
        "oops",
    ]


@needs_sandbox
async def test_os_execute_sandboxed_runs_a_shell_command_as_the_sandbox_user(
    tmp_path: Path,
) -> None:
    command = 'read line; echo "$line from $(id -u) in $(pwd)"; ls /home 2>&1 | head -1'
    result = await call(
        tool_settings(tmp_path),
        "os.execute_sandboxed",
        {"command": command, "stdin": "hi\n"},
    )
    assert result.data is not None
    assert result.data["exitCode"] == 0
    lines = result.data["stdout"].splitlines()
    assert lines[0] == "hi from 1000 in /work"
    assert "No such file" in lines[1]


@needs_sandbox
async def test_a_run_past_its_timeout_is_killed_and_reported(tmp_path: Path) -> None:
    result = await call(
        tool_settings(tmp_path),
        "code.execute",
        {"code": "import time\nprint('start', flush=True)\ntime.sleep(60)", "timeoutSeconds": 1},
    )
    assert result.is_error
    assert result.data is not None
    assert (result.data["timedOut"], result.data["killedReason"]) == (True, "timeout")
    assert result.data["exitCode"] is None
    assert result.data["stdout"] == "start\n"
    assert "time limit" in result.content
    assert result.data["durationSeconds"] < 5


@needs_sandbox
async def test_the_context_deadline_shortens_the_timeout(tmp_path: Path) -> None:
    settings = tool_settings(tmp_path)
    context = ToolContext(settings, deadline=time.monotonic() + 1.0)
    result = await call(settings, "os.execute_sandboxed", {"command": "sleep 60"}, context)
    assert result.data is not None
    assert result.data["killedReason"] == "timeout"
    assert result.data["durationSeconds"] < 5


@needs_sandbox
async def test_sandboxed_code_has_no_network(tmp_path: Path) -> None:
    connected = asyncio.Event()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    code = (
        "import socket\ntry:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n    print('connected')\n"
        "except OSError as exc:\n    print('refused', type(exc).__name__)\n"
    )
    async with server:
        result = await call(tool_settings(tmp_path), "code.execute", {"code": code})
    assert result.data is not None
    assert result.data["stdout"] == "refused ConnectionRefusedError\n"
    assert not connected.is_set()


@pytest.fixture
def no_bwrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """bwrap cannot be found; yields a marker path that must never be written."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    marker = tmp_path / "ran-unsandboxed"
    yield marker
    assert not marker.exists(), "the code ran outside the sandbox"


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("code.execute", {"code": "open({marker!r}, 'w').write('x')"}),
        ("os.execute_sandboxed", {"command": "touch {marker}"}),
    ],
)
async def test_without_bwrap_the_sandboxed_tools_are_unavailable_and_refuse_to_run(
    tmp_path: Path, no_bwrap: Path, name: str, arguments: dict[str, str]
) -> None:
    settings = tool_settings(tmp_path)
    tool = registry(settings).get(name)
    assert tool is not None
    reason = tool.unavailable()
    assert reason is not None
    assert "bwrap" in reason
    filled = {key: value.format(marker=str(no_bwrap)) for key, value in arguments.items()}
    through_runtime = await run_tool(tool, ToolContext(settings), filled)
    assert through_runtime.is_error
    assert through_runtime.content.startswith(f"{name} is unavailable: ")
    assert "bwrap" in through_runtime.content
    # Called directly anyway, the handler still refuses rather than run on the host.
    direct = await call(settings, name, filled)
    assert direct.is_error
    assert "Sandboxed execution is unavailable" in direct.content


def test_os_execute_is_absent_by_default_and_critical_when_enabled(tmp_path: Path) -> None:
    assert registry(tool_settings(tmp_path)).get("os.execute") is None
    tool = registry(tool_settings(tmp_path, allow_host_exec=True)).get("os.execute")
    assert tool is not None
    assert tool.risk is RiskLevel.CRITICAL
    assert tool.parameters["required"] == ["command"]


async def test_os_execute_runs_on_the_host_without_the_gateways_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPHON_JWT_SECRET", "do-not-leak-" + "x" * 32)
    settings = tool_settings(tmp_path, allow_host_exec=True)
    command = 'echo "secret=[$SOPHON_JWT_SECRET] home=$HOME"; echo problem >&2; exit 4'
    result = await call(settings, "os.execute", {"command": command})
    assert result.data is not None
    assert result.data["exitCode"] == 4
    assert result.data["stdout"] == f"secret=[] home={settings.data / 'host-exec'}\n"
    assert result.data["stderr"] == "problem\n"
    assert "do-not-leak" not in result.content


async def test_os_execute_times_out_and_caps_output(tmp_path: Path) -> None:
    settings = tool_settings(tmp_path, allow_host_exec=True, host_exec_max_output_bytes=1024)
    slow = await call(
        settings,
        "os.execute",
        {"command": "echo begun; (sleep 60 &); sleep 60", "timeoutSeconds": 0.5},
    )
    assert slow.is_error
    assert slow.data is not None
    assert (slow.data["timedOut"], slow.data["exitCode"]) == (True, None)
    assert slow.data["stdout"] == "begun\n"
    assert slow.data["durationSeconds"] < 5
    loud = await call(settings, "os.execute", {"command": "head -c 5000 /dev/zero | tr '\\0' x"})
    assert loud.data is not None
    assert (loud.data["stdout"], loud.data["stdoutTruncated"]) == ("x" * 1024, True)
    assert "output truncated" in loud.content
