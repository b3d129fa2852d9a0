"""What the cron domain needs from the process, handed over by the composition root once; the
workflow launcher is a protocol so that cron imports no workflows package."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.platform.http import Resolver, system_resolver
from sophon.platform.vault import Vault
from sophon.settings import Settings
from sophon.tools.registry import ToolRegistry


class WorkflowLauncher(Protocol):
    """Starts workflow runs for the `workflow` action (wired by the composition root)."""

    async def exists(self, db: AsyncSession, workflow_id: str) -> bool:
        """Whether the session tenant has this workflow."""
        ...

    async def start(
        self,
        db: AsyncSession,
        *,
        workflow_id: str,
        input: dict[str, Any] | None,
        user_id: str | None,
        cron_job_id: str,
    ) -> str:
        """Starts a run in the caller's transaction and returns its task id; a domain error
        (e.g. the workflow is paused) when it may not run now, having written nothing."""
        ...


@dataclass
class CronContext:
    settings: Settings
    tools: ToolRegistry
    vault: Vault
    workflows: WorkflowLauncher | None = None
    resolver: Resolver = system_resolver
    """Turns webhook host names into addresses (tests replace it)."""
