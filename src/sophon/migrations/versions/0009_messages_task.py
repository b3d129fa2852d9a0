"""messages: a task's messages (the tools a day's tasks called, an exchange to extract from)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 23:40:00.000000

Without it, every turn's daily log and every memory extraction scanned the whole messages table.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_messages_task", "messages", ["task_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_messages_task", table_name="messages")
