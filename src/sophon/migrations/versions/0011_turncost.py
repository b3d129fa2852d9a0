"""model_usage.kind (chat or memory); memory_session_learning (batched memory learning)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 12:40:00.000000

Memory learning reads a session's messages in batches (one model call per window of turns)
instead of after every turn; `memory_session_learning` keeps how far each session was read.
Model usage rows say what the call was for, so memory's tokens show apart from the turns'.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sophon.platform.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_usage", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), server_default="chat", nullable=False)
        )
    op.create_table(
        "memory_session_learning",
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("learned_through", sa.String(length=40), nullable=False),
        sa.Column("learned_at", sophon.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["chat_sessions.id"],
            name=op.f("fk_memory_session_learning_session_id_chat_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_memory_session_learning_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_memory_session_learning")),
    )
    with op.batch_alter_table("memory_session_learning", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_memory_session_learning_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("memory_session_learning", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memory_session_learning_tenant_id"))
    op.drop_table("memory_session_learning")
    with op.batch_alter_table("model_usage", schema=None) as batch_op:
        batch_op.drop_column("kind")
