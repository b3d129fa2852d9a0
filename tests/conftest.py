"""Test harness: every test that takes `client` runs once on SQLite and once on PostgreSQL, each on
a database of its own cloned from a template migrated once per run."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from sophon.app import create_app
from sophon.platform import migrate
from sophon.settings import Settings

PG_ADMIN_DSN = os.environ.get("SOPHON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"
_counter = iter(range(1_000_000))


def _pg_url(dbname: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{dbname}"


async def _pg_admin(*statements: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def pg_admin(*statements: str) -> None:
    asyncio.run(_pg_admin(*statements))


@pytest.fixture(scope="session")
def pg_unavailable() -> str | None:
    """Why PostgreSQL can't be used here, or None. Under CI it must be reachable."""
    try:
        pg_admin("SELECT 1")
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        if IN_CI:
            raise RuntimeError(f"PostgreSQL is required under CI=true: {exc}") from exc
        return f"PostgreSQL at {PG_ADMIN_DSN} is unreachable ({exc})"
    return None


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "sophon.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template(pg_unavailable: str | None) -> Iterator[str]:
    if pg_unavailable:
        pytest.skip(pg_unavailable)
    name = f"sophon_tpl_{os.getpid()}"
    pg_admin(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    migrate.upgrade(_pg_url(name))
    yield name
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_sqlite(template: Path, target: Path) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(template) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        yield fresh_sqlite(template, tmp_path / "data" / "data" / "sophon.db")
        return
    template_name: str = request.getfixturevalue("pg_template")
    name = f"sophon_t{os.getpid()}_{next(_counter)}"
    pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    yield _pg_url(name)
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("SOPHON_") and key != "SOPHON_TEST_PG":
            monkeypatch.delenv(key)
    monkeypatch.setenv("SOPHON_DATA", str(tmp_path / "data"))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data=tmp_path / "data", database_url=database_url, migrate_on_start=False)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
