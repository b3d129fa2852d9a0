"""Run one spec under bwrap: spawn it, read both output streams up to their cap, and kill the
whole sandbox at the wall-clock deadline or on output overflow."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from dataclasses import dataclass, field

from sophon.runtime.sandbox.layout import command_for, prepare_command
from sophon.runtime.sandbox.spec import KilledReason, SandboxResult, SandboxSpec
from sophon.runtime.sandbox.status import SandboxUnavailable, sandbox_status

_CHUNK = 64 * 1024
_CPU_SIGNAL_EXITS = {128 + signal.SIGXCPU}
# RLIMIT_AS exhaustion is not a signal: the process fails an allocation and reports it itself.
_MEMORY_MARKERS = (b"MemoryError", b"Cannot allocate memory", b"out of memory", b"bad_alloc")
_MEMORY_MARKER_TAIL = 4096


@dataclass(slots=True)
class _Capture:
    """Keeps at most `cap` bytes of a stream; the rest is read and dropped."""

    cap: int
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    truncated: bool = False

    def feed(self, chunk: bytes) -> bool:
        """Store what fits; False once the stream has gone past its cap."""
        room = self.cap - self.size
        if len(chunk) > room:
            self.truncated = True
            chunk = chunk[: max(room, 0)]
        if chunk:
            self.chunks.append(chunk)
            self.size += len(chunk)
        return not self.truncated

    def data(self) -> bytes:
        return b"".join(self.chunks)


async def run_sandboxed(spec: SandboxSpec) -> SandboxResult:
    """Run spec in a fresh bwrap sandbox. Raises SandboxUnavailable (never runs unsandboxed)."""
    status = await asyncio.to_thread(sandbox_status)
    if not status.available or status.tools is None:
        raise SandboxUnavailable(f"Sandboxed execution is unavailable: {status.reason}")
    command = command_for(spec, status.tools)
    if command is None:
        raise SandboxUnavailable("No system Python is reachable inside the sandbox.")
    prepared = await asyncio.to_thread(prepare_command, spec, status.tools, command)
    started = time.monotonic()
    try:
        process = await asyncio.create_subprocess_exec(
            *prepared.argv,
            stdin=prepared.stdin_fd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={},  # the Gateway's environment holds secrets; bwrap itself needs none
            cwd="/",
            start_new_session=True,
            pass_fds=prepared.pass_fds,
        )
    except OSError as exc:
        raise SandboxUnavailable(f"bwrap could not be started: {exc}") from exc
    finally:
        prepared.close()
    return await _supervise(process, spec, started)


async def _supervise(
    process: asyncio.subprocess.Process, spec: SandboxSpec, started: float
) -> SandboxResult:
    limits = spec.limits
    stdout, stderr = _Capture(limits.max_output_bytes), _Capture(limits.max_output_bytes)
    overflow = asyncio.Event()
    finished = asyncio.ensure_future(_collect(process, stdout, stderr, overflow))
    overflowed = asyncio.ensure_future(overflow.wait())
    killed: KilledReason | None = None
    try:
        done, _ = await asyncio.wait(
            {finished, overflowed},
            timeout=limits.wall_seconds,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if finished not in done:
            killed = "output" if overflow.is_set() else "timeout"
            _kill(process)
            await finished
    except asyncio.CancelledError:
        _kill(process)  # our caller gave up: take the sandbox down too, and drain it to EOF
        await asyncio.shield(finished)
        raise
    finally:
        overflowed.cancel()
    exit_code = process.returncode
    err = stderr.data()
    return SandboxResult(
        exit_code=None if killed else exit_code,
        stdout=stdout.data(),
        stderr=err,
        duration_seconds=time.monotonic() - started,
        timed_out=killed == "timeout",
        killed_reason=killed or _inferred_reason(exit_code, err),
        stdout_truncated=stdout.truncated,
        stderr_truncated=stderr.truncated,
    )


async def _collect(
    process: asyncio.subprocess.Process,
    stdout: _Capture,
    stderr: _Capture,
    overflow: asyncio.Event,
) -> None:
    assert process.stdout is not None
    assert process.stderr is not None
    await asyncio.gather(
        _drain(process.stdout, stdout, overflow), _drain(process.stderr, stderr, overflow)
    )
    await process.wait()


async def _drain(stream: asyncio.StreamReader, capture: _Capture, overflow: asyncio.Event) -> None:
    # Reading on past the cap (and dropping it) keeps the writer from blocking until the kill.
    while chunk := await stream.read(_CHUNK):
        if not capture.feed(chunk):
            overflow.set()


def _kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL bwrap's process group; --die-with-parent then takes down the sandbox's pid
    namespace, and with it every process inside."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _inferred_reason(exit_code: int | None, stderr: bytes) -> KilledReason | None:
    if exit_code in _CPU_SIGNAL_EXITS:
        return "cpu"
    tail = stderr[-_MEMORY_MARKER_TAIL:]
    if exit_code and any(marker in tail for marker in _MEMORY_MARKERS):
        return "memory"
    return None
