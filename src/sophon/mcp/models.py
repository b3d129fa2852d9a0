"""Tables of the MCP domain: a tenant's registrations of external MCP servers, and the tokens MCP
clients use to reach the Gateway's own server."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sophon.platform.db import Base, Timestamped, id_column
from sophon.platform.tenancy import TenantScoped


class McpServerRegistration(Base, TenantScoped, Timestamped):
    """An external MCP server. `secrets` is one vault blob (associated data: the registration id)
    holding the `env` values and the auth credentials; `env_keys` and `auth_mask` are what
    responses show. `approved_tools` maps each bridged tool to the hash of its definition
    (description and schema) as approved; `risk_overrides` maps tool names to risk levels."""

    __tablename__ = "mcp_servers"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(40))
    transport: Mapped[str] = mapped_column(String(20))
    command: Mapped[str | None] = mapped_column(String(1000))
    args: Mapped[list[str]] = mapped_column(JSON, default=list)
    env_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    url: Mapped[str | None] = mapped_column(String(2000))
    auth_type: Mapped[str] = mapped_column(String(20), default="none")
    auth_mask: Mapped[str | None] = mapped_column(String(40))
    auth_header: Mapped[str | None] = mapped_column(String(100))
    secrets: Mapped[str | None] = mapped_column(Text)
    excluded_tools: Mapped[list[str]] = mapped_column(JSON, default=list)
    risk_overrides: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    approved_tools: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False)
    host_approved: Mapped[bool] = mapped_column(Boolean, default=False)
    """A stdio server runs a command on the host: only after a person approved it (Critical)."""
    approval_id: Mapped[str | None] = mapped_column(String(40))
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=30)
    created_by: Mapped[str | None] = mapped_column(String(40))


class McpServerToken(Base, TenantScoped, Timestamped):
    """A bearer token for the Gateway's own MCP server, bound to a user and a tenant, stored only
    as its SHA-256; `tools` optionally narrows the exposed tools further (names or globs)."""

    __tablename__ = "mcp_server_tokens"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(String(40), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(20))
    tools: Mapped[list[str] | None] = mapped_column(JSON)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "userId": self.user_id, "tools": self.tools}
