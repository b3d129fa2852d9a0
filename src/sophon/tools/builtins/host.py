"""`os.execute`: a shell command on the Gateway's host, unsandboxed. Registered only when the
`allow_host_exec` setting enables it; Critical, so every call needs approval."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

from pydantic import Field

from sophon.tools.builtins.sandboxed import (
    DEFAULT_TIMEOUT_SECONDS,
    MAX_SOURCE_CHARS,
    MAX_TIMEOUT_SECONDS,
    format_execution,
)
from sophon.tools.invoke import ToolArguments, ToolContext, ToolResult, builtin_tool
from sophon.tools.registry import RiskLevel, Tool

_SHELL = "/bin/sh"
_CHUNK = 64 * 1024
# The Gateway's own environment holds secrets (JWT key, provider keys): none of it is passed on.
_HOST_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


class HostCommandArguments(ToolArguments):
    command: str = Field(
        min_length=1, max_length=MAX_SOURCE_CHARS, description="A /bin/sh command line."
    )
    timeout_seconds: float = Field(
        DEFAULT_TIMEOUT_SECONDS, gt=0, le=MAX_TIMEOUT_SECONDS, description="Wall-clock limit."
    )


class _Capped:
    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.truncated = False

    async def drain(self, stream: asyncio.StreamReader) -> None:
        # Reading past the cap (and dropping it) keeps the child from blocking on a full pipe.
        while chunk := await stream.read(_CHUNK):
            room = self.cap - len(self.data)
            if len(chunk) > room:
                self.truncated = True
            self.data += chunk[: max(room, 0)]

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


async def host_execute(context: ToolContext, arguments: HostCommandArguments) -> ToolResult:
    settings = context.settings
    wall = context.bounded(arguments.timeout_seconds)
    workdir = settings.data / "host-exec"
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        _SHELL,
        "-c",
        arguments.command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**_HOST_ENV, "HOME": str(workdir)},
        cwd=workdir,
        start_new_session=True,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    stdout = _Capped(settings.host_exec_max_output_bytes)
    stderr = _Capped(settings.host_exec_max_output_bytes)
    collecting = asyncio.gather(stdout.drain(process.stdout), stderr.drain(process.stderr))
    timed_out = False
    try:
        await asyncio.wait_for(asyncio.shield(collecting), timeout=wall)
    except TimeoutError:
        timed_out = True
        _kill_group(process)  # the whole group: children may be holding the pipes open
        await collecting
    except asyncio.CancelledError:
        _kill_group(process)
        await asyncio.shield(collecting)
        raise
    await process.wait()
    exit_code = None if timed_out else process.returncode
    killed = "timeout" if timed_out else None
    content = format_execution(
        exit_code=exit_code,
        stdout=stdout.text(),
        stderr=stderr.text(),
        killed_reason=killed,
        wall_seconds=wall,
        truncated=stdout.truncated or stderr.truncated,
    )
    data = {
        "exitCode": exit_code,
        "stdout": stdout.text(),
        "stderr": stderr.text(),
        "timedOut": timed_out,
        "killedReason": killed,
        "stdoutTruncated": stdout.truncated,
        "stderrTruncated": stderr.truncated,
        "durationSeconds": round(time.monotonic() - started, 3),
    }
    return ToolResult(content=content, data=data, is_error=timed_out)


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def host_tools() -> list[Tool]:
    return [
        builtin_tool(
            "os.execute",
            "Run a shell command directly on the Gateway host, WITHOUT a sandbox. Critical: "
            "every call needs approval.",
            RiskLevel.CRITICAL,
            HostCommandArguments,
            host_execute,
            editable_at_approval=True,
        )
    ]
