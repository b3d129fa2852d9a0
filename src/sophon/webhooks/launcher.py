"""What the webhooks need from workflows, as a protocol the composition root injects: this
package never imports a workflows package. Absent, the `workflow` action answers 422."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class WorkflowLauncher(Protocol):
    async def exists(self, db: AsyncSession, workflow_id: str) -> bool:
        """Whether the session tenant has this workflow."""
        ...

    async def launch(
        self, db: AsyncSession, workflow_id: str, trigger: dict[str, Any], user_id: str | None
    ) -> str:
        """Starts a run in the caller's transaction with `$trigger`; returns its task or run
        id."""
        ...
