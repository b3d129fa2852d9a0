"""Whether sandboxed execution works on this host. There is no unsandboxed fallback: when the
probe fails, runs are refused with SandboxUnavailable."""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass

from sophon.platform.errors import ServiceUnavailable
from sophon.runtime.sandbox.layout import HostTools, find_tools, prepare_command
from sophon.runtime.sandbox.spec import SandboxSpec

_PROBE_SECONDS = 10.0
_PROBE_COMMAND = ["true"]


class SandboxUnavailable(ServiceUnavailable):
    code = "sandbox_unavailable"
    default_message = "Sandboxed execution is not available on this host."


@dataclass(frozen=True, slots=True)
class SandboxStatus:
    available: bool
    reason: str
    tools: HostTools | None = None


_verified: dict[HostTools, SandboxStatus] = {}
_verified_lock = threading.Lock()


def sandbox_status() -> SandboxStatus:
    """Probe the sandbox by running `true` in it; a success is remembered, a failure re-probed.
    Blocking: from async code call it through asyncio.to_thread."""
    found = find_tools()
    if isinstance(found, str):
        return SandboxStatus(available=False, reason=found)
    with _verified_lock:
        cached = _verified.get(found)
    if cached is not None:
        return cached
    status = _probe(found)
    if status.available:
        with _verified_lock:
            _verified[found] = status
    return status


def sandbox_available() -> bool:
    """True when bwrap can create the sandbox here. Blocking the first time (see sandbox_status)."""
    return sandbox_status().available


def _probe(tools: HostTools) -> SandboxStatus:
    prepared = prepare_command(SandboxSpec(argv=_PROBE_COMMAND), tools, _PROBE_COMMAND)
    try:
        completed = subprocess.run(  # noqa: S603 - fixed argv built from absolute host paths
            prepared.argv,
            stdin=prepared.stdin_fd,
            capture_output=True,
            env={},
            cwd="/",
            timeout=_PROBE_SECONDS,
            pass_fds=prepared.pass_fds,
            start_new_session=True,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return SandboxStatus(available=False, reason=f"bwrap could not be started: {exc}")
    finally:
        prepared.close()
    if completed.returncode != 0:
        detail = completed.stderr.decode("utf-8", errors="replace").strip()[:500]
        detail = detail or f"exit status {completed.returncode}"
        return SandboxStatus(available=False, reason=f"bwrap cannot create the sandbox: {detail}")
    python = tools.python or "none (python scripts are refused)"
    reason = f"bwrap sandbox works ({tools.bwrap}); system python: {python}"
    return SandboxStatus(available=True, reason=reason, tools=tools)
