"""connections: a tenant's named credentials (API key / bearer / basic), sealed by the vault

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sophon.platform.db

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    stamp = sophon.platform.db.UTCDateTime(timezone=True)
    op.create_table(
        "connections",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("auth_type", sa.String(length=20), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=True),
        sa.Column("header", sa.String(length=100), nullable=True),
        sa.Column("test_url", sa.String(length=2000), nullable=True),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("secret_mask", sa.String(length=40), nullable=False),
        sa.Column("rotated_at", stamp, nullable=True),
        sa.Column("last_tested_at", stamp, nullable=True),
        sa.Column("last_test_ok", sa.Boolean(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("updated_at", stamp, nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_connections_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_connections_tenant_id_name")),
    )
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_connections_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    op.drop_table("connections")
