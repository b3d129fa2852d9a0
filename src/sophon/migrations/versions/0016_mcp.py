"""MCP: external MCP server registrations and the Gateway's own MCP server tokens

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sophon.platform.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def _stamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sophon.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sophon.platform.db.UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "mcp_servers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("transport", sa.String(length=20), nullable=False),
        sa.Column("command", sa.String(length=1000), nullable=True),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("env_keys", sa.JSON(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("auth_type", sa.String(length=20), nullable=False),
        sa.Column("auth_mask", sa.String(length=40), nullable=True),
        sa.Column("auth_header", sa.String(length=100), nullable=True),
        sa.Column("secrets", sa.Text(), nullable=True),
        sa.Column("excluded_tools", sa.JSON(), nullable=False),
        sa.Column("risk_overrides", sa.JSON(), nullable=False),
        sa.Column("approved_tools", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        sa.Column("host_approved", sa.Boolean(), nullable=False),
        sa.Column("approval_id", sa.String(length=40), nullable=True),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        *_stamps(),
        _tenant_fk("mcp_servers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mcp_servers")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_mcp_servers_tenant_id_name")),
    )
    with op.batch_alter_table("mcp_servers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mcp_servers_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "mcp_server_tokens",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=20), nullable=False),
        sa.Column("tools", sa.JSON(), nullable=True),
        sa.Column("last_used_at", sophon.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sophon.platform.db.UTCDateTime(timezone=True), nullable=True),
        *_stamps(),
        _tenant_fk("mcp_server_tokens"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mcp_server_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_mcp_server_tokens_token_hash")),
    )
    with op.batch_alter_table("mcp_server_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mcp_server_tokens_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_mcp_server_tokens_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_table("mcp_server_tokens")
    op.drop_table("mcp_servers")
