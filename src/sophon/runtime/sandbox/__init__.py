"""Run untrusted code (code.execute, os.execute_sandboxed) in a bubblewrap sandbox, never in the
Gateway process: no network by default, no host files beyond read-only system dirs, hard limits."""

from sophon.runtime.sandbox.runner import run_sandboxed
from sophon.runtime.sandbox.spec import (
    KilledReason,
    Language,
    SandboxLimits,
    SandboxResult,
    SandboxSpec,
)
from sophon.runtime.sandbox.status import (
    SandboxStatus,
    SandboxUnavailable,
    sandbox_available,
    sandbox_status,
)

__all__ = [
    "KilledReason",
    "Language",
    "SandboxLimits",
    "SandboxResult",
    "SandboxSpec",
    "SandboxStatus",
    "SandboxUnavailable",
    "run_sandboxed",
    "sandbox_available",
    "sandbox_status",
]
