"""Starting a workflow run from another feature (the `workflow` action of a cron job or of an
inbound webhook) without importing the workflows package: the composition root injects the
implementation (`workflows.triggers.WorkflowLauncher`)."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class WorkflowLauncher(Protocol):
    async def exists(self, db: AsyncSession, workflow_id: str) -> bool:
        """Whether the session tenant has this workflow."""
        ...

    async def launch(
        self,
        db: AsyncSession,
        workflow_id: str,
        *,
        trigger: dict[str, Any],
        input: Any,
        user_id: str | None,
    ) -> str:
        """Starts a run in the caller's transaction (so the fire or receipt and the run commit
        together) and returns its task id. `trigger` is the run's `$trigger` (`type` and what
        fired it), `input` its input, `user_id` whose rights it has (None: the workflow owner's).
        A domain error, having written nothing, when it may not run now (Conflict: disabled,
        paused or waiting for its approval)."""
        ...
