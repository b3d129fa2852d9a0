"""memory: who read an entry's entities (rules, pending model reading, model)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 16:50:00.000000

The sqlite-vec index tables (`memory_vec_<dims>`) are made at run time, when the embedding
model's dimension count is known; a downgrade removes them with their triggers.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ALTER TABLE (no batch copy): a rebuilt memory_entries would lose the FTS triggers
    op.add_column(
        "memory_entries",
        sa.Column("graph_method", sa.String(length=10), server_default="rules", nullable=False),
    )
    op.create_index(
        "ix_memory_entries_graph_method", "memory_entries", ["graph_method"], unique=False
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        rows = bind.exec_driver_sql(
            "SELECT type, name FROM sqlite_master WHERE name LIKE 'memory_vec_%' "
            "AND type IN ('trigger', 'table') ORDER BY type DESC, length(name)"
        ).all()
        for kind, name in rows:  # triggers first, then the vec0 tables (their shadows go too)
            op.execute(f'DROP {"TRIGGER" if kind == "trigger" else "TABLE"} IF EXISTS "{name}"')
    op.drop_index("ix_memory_entries_graph_method", table_name="memory_entries")
    op.drop_column("memory_entries", "graph_method")
