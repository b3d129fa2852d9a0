"""Reading the audit trail through the API, and tampering with it behind the API's back."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import asyncpg
import httpx

from tests.identity_helpers import Caller

AUDIT = "/api/admin/audit"
TEST_CLIENT_IP = "127.0.0.1"  # what httpx.ASGITransport reports as the client address


async def audit_entries(client: httpx.AsyncClient, caller: Caller, **params: Any) -> list[Any]:
    """Every entry the filters select, newest first (one page of up to 200)."""
    response = await client.get(AUDIT, headers=caller.headers, params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


def written_by(entries: list[Any], response: httpx.Response, action: str) -> dict[str, Any]:
    """The one entry with this action that the request behind `response` wrote."""
    request_id = response.headers["x-sophon-request-id"]
    found = [e for e in entries if e["requestId"] == request_id and e["action"] == action]
    assert len(found) == 1, (action, request_id, entries)
    entry: dict[str, Any] = found[0]
    return entry


def assert_entry(
    entry: dict[str, Any],
    *,
    actor: Caller | None,
    resource: tuple[str | None, str | None],
    outcome: str = "success",
) -> None:
    assert entry["id"].startswith("audit_"), entry
    assert entry["timestamp"].endswith("Z"), entry
    assert entry["outcome"] == outcome, entry
    assert entry["resource"] == {"type": resource[0], "id": resource[1]}, entry
    assert entry["ip"] == TEST_CLIENT_IP, entry
    if actor is not None:
        assert entry["actor"]["userId"] == actor.id, entry
        assert entry["actor"]["email"] == actor.email, entry
        assert entry["actor"]["tenantId"], entry


class RawDatabase:
    """A connection of the test's own to the Gateway's database, past every API."""

    def __init__(self, database_url: str) -> None:
        self.sqlite_path = (
            database_url.split("///", 1)[1] if database_url.startswith("sqlite") else None
        )
        self.pg_dsn = database_url.replace("+asyncpg", "")

    async def execute(self, sql: str, *args: Any) -> None:
        """Runs one statement written with `$1`-style placeholders on either engine."""
        if self.sqlite_path is None:
            conn = await asyncpg.connect(self.pg_dsn, timeout=5)
            try:
                await conn.execute(sql, *args)
            finally:
                await conn.close()
            return
        await asyncio.to_thread(self._sqlite, _qmark(sql, len(args)), args)

    def _sqlite(self, sql: str, args: tuple[Any, ...]) -> None:
        assert self.sqlite_path is not None
        conn = sqlite3.connect(self.sqlite_path, timeout=10)
        try:
            with conn:
                conn.execute(sql, args)
        finally:
            conn.close()


def _qmark(sql: str, count: int) -> str:
    for index in range(count, 0, -1):
        sql = sql.replace(f"${index}", "?")
    return sql
