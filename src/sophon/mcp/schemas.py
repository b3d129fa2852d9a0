"""Wire models of `/api/mcp`: server registrations (secrets write-only, masked when read), the
result of a test, bridged tools, and the Gateway's own server (tokens, status, config)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from sophon.platform.schemas import ApiModel, RequestModel, Timestamp
from sophon.tools.registry import RiskLevel

Transport = Literal["stdio", "streamableHttp", "sse"]
AuthType = Literal["none", "apiKey", "bearer", "basic"]
SERVER_NAME = r"^[a-z0-9][a-z0-9_-]{0,39}$"
"""Lowercase letters, digits, `_` and `-` (no dot: it separates `mcp.<server>.<tool>`)."""
MASK = "••••••"


class AuthIn(RequestModel):
    """`bearer`: `token`; `apiKey`: `key` (sent in `header`, default `X-API-Key`); `basic`:
    `username` and `password`."""

    type: AuthType = "none"
    token: str | None = Field(None, max_length=4000)
    key: str | None = Field(None, max_length=4000)
    header: str | None = Field(None, pattern=r"^[A-Za-z0-9-]{1,100}$")
    username: str | None = Field(None, max_length=200)
    password: str | None = Field(None, max_length=4000)


class AuthOut(ApiModel):
    type: AuthType
    header: str | None = None
    secret: str | None = None
    """The credential, masked."""


class McpServerIn(RequestModel):
    name: str = Field(pattern=SERVER_NAME)
    transport: Transport
    command: str | None = Field(None, min_length=1, max_length=1000)
    args: list[str] = Field(default_factory=list, max_length=100)
    env: dict[str, str] = Field(default_factory=dict, max_length=100)
    url: str | None = Field(None, max_length=2000)
    auth: AuthIn | None = None
    excluded_tools: list[str] = Field(default_factory=list, max_length=500)
    risk_overrides: dict[str, RiskLevel] = Field(default_factory=dict, max_length=500)
    """Per-tool risk, overriding what the server's annotations say."""
    enabled: bool = True
    timeout_seconds: int = Field(30, ge=1, le=600)
    sandbox: bool = False
    """stdio: run the command inside the bubblewrap sandbox (network allowed, data dir hidden)."""


class McpServerPatchIn(RequestModel):
    """Absent fields stay as they are; `env` and `auth`, when given, replace the stored ones."""

    transport: Transport | None = None
    command: str | None = Field(None, min_length=1, max_length=1000)
    args: list[str] | None = Field(None, max_length=100)
    env: dict[str, str] | None = Field(None, max_length=100)
    url: str | None = Field(None, max_length=2000)
    auth: AuthIn | None = None
    excluded_tools: list[str] | None = Field(None, max_length=500)
    risk_overrides: dict[str, RiskLevel] | None = Field(None, max_length=500)
    enabled: bool | None = None
    timeout_seconds: int | None = Field(None, ge=1, le=600)
    sandbox: bool | None = None


class McpServerOut(ApiModel):
    id: str
    name: str
    transport: Transport
    command: str | None
    args: list[str]
    env: dict[str, str]
    """The declared variables, values masked."""
    url: str | None
    auth: AuthOut
    excluded_tools: list[str]
    risk_overrides: dict[str, str]
    enabled: bool
    timeout_seconds: int
    sandbox: bool
    status: str
    """`connected`, `connecting`, `disconnected` (retrying), `disabled`, or
    `awaiting_approval` (a stdio server whose command a person has not approved yet)."""
    approval_id: str | None
    """The approval (Critical) a stdio server's command waits for, or got."""
    last_error: str | None
    tool_count: int
    resources: list[str] = []
    """The URIs of the resources the server lists (kept current on its list_changed)."""
    prompts: list[str] = []
    """The names of the prompts the server lists (kept current on its list_changed)."""
    problems: dict[str, str]
    """Tools that are not bridged and why (a name collision, a name too long)."""
    changed_tools: list[str]
    """Tools disabled because their definition changed since approval."""
    created_at: Timestamp
    updated_at: Timestamp


class BridgedToolOut(ApiModel):
    name: str
    """The catalog name, `mcp.<server>.<tool>`."""
    server_tool: str
    description: str
    parameters: dict[str, Any]
    risk_level: RiskLevel
    excluded: bool
    available: bool
    unavailable_reason: str | None


class McpServerToolsOut(ApiModel):
    items: list[BridgedToolOut]


class McpTestOut(ApiModel):
    ok: bool
    latency_ms: float
    server_name: str | None = None
    server_version: str | None = None
    protocol_version: str | None = None
    tools: list[str] = Field(default_factory=list)
    resources: int = 0
    prompts: int = 0
    error: str | None = None
    tested_at: Timestamp


# --- the Gateway's own server ---------------------------------------------------------------


class TokenIn(RequestModel):
    name: str = Field(min_length=1, max_length=100)
    tools: list[str] | None = Field(None, max_length=200)
    """Narrow what this token's clients see to these tool names or `prefix.*` globs."""


class TokenOut(ApiModel):
    id: str
    name: str
    prefix: str
    user_id: str
    tools: list[str] | None
    created_at: Timestamp
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None


class TokenCreatedOut(TokenOut):
    token: str
    """Shown once."""


class TransportConfig(ApiModel):
    enabled: bool = True
    path: str | None = None


class ExposeConfig(ApiModel):
    tools: list[str] = Field(
        default_factory=lambda: ["memory.*", "datetime.*", "document.*", "workflow.*", "agent.*"]
    )
    resources: list[str] = Field(default_factory=lambda: ["agents/*", "memory/*", "documents/*"])


TransportName = Literal["stdio", "sse", "streamableHttp"]


def _default_transports() -> dict[TransportName, TransportConfig]:
    return {
        "stdio": TransportConfig(),
        "sse": TransportConfig(path="/mcp/sse"),
        "streamableHttp": TransportConfig(path="/mcp/http"),
    }


class ServerConfig(ApiModel):
    enabled: bool = True
    transports: dict[TransportName, TransportConfig] = Field(default_factory=_default_transports)
    expose: ExposeConfig = Field(default_factory=ExposeConfig)


class ServerStatusOut(ApiModel):
    enabled: bool
    transports: list[str]
    connected_sessions: int
    calls_served: int
    started_at: datetime | None = None
