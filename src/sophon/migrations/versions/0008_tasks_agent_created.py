"""tasks: an agent's tasks by creation time (a day's tasks for the daily logs, on every turn)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 21:30:00.000000

The index on `agent_id` alone is its prefix, so it goes.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tasks_agent_created", "tasks", ["agent_id", "created_at"], unique=False)
    op.drop_index("ix_tasks_agent_id", table_name="tasks")


def downgrade() -> None:
    op.create_index("ix_tasks_agent_id", "tasks", ["agent_id"], unique=False)
    op.drop_index("ix_tasks_agent_created", table_name="tasks")
