"""Per-request context carried in contextvars, read by logging and services."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
user_id_var: ContextVar[str | None] = ContextVar("user_id", default=None)
tenant_id_var: ContextVar[str | None] = ContextVar("tenant_id", default=None)
client_ip_var: ContextVar[str | None] = ContextVar("client_ip", default=None)
