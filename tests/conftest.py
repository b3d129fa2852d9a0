"""Test harness: every test that takes `client` runs once on SQLite and once on PostgreSQL, each on
a database of its own cloned from a template migrated once per run."""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from sophon.app import create_app
from sophon.models import metadata
from sophon.platform import migrate
from sophon.platform.clock import set_clock
from sophon.settings import Settings
from tests.identity_helpers import Caller, setup_admin
from tests.llm.fakes import FakeServer

PG_ADMIN_DSN = os.environ.get("SOPHON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
pytest_plugins = ["tests.browser"]  # browser fixtures, for any test folder

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
    migrate.upgrade(f"sqlite+aiosqlite:///{path}", metadata)
    return path


class PgDatabasePool:
    """Fresh PostgreSQL databases cloned from the migrated template by a background thread a few
    tests ahead, and dropped behind, so cloning (~0.6 s) overlaps the tests instead of adding up."""

    AHEAD = 2

    def __init__(self, template: str) -> None:
        self.template = template
        self.ready: queue.Queue[str] = queue.Queue()
        self.jobs: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._work, name="pg-pool", daemon=True)
        self.thread.start()
        for _ in range(self.AHEAD):
            self._order()

    def _order(self) -> None:
        self.jobs.put(("create", f"sophon_t{os.getpid()}_{next(_counter)}"))

    def _work(self) -> None:
        async def run() -> None:
            conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
            try:
                while (job := self.jobs.get()) is not None:
                    action, name = job
                    if action == "create":
                        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
                        self.ready.put(name)
                    else:
                        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()

        asyncio.run(run())

    def take(self) -> str:
        self._order()
        return self.ready.get(timeout=60)

    def give_back(self, name: str) -> None:
        self.jobs.put(("drop", name))

    def close(self) -> None:
        while not self.ready.empty():
            self.give_back(self.ready.get())
        self.jobs.put(None)
        self.thread.join(timeout=60)


@pytest.fixture(scope="session")
def pg_pool(pg_unavailable: str | None) -> Iterator[PgDatabasePool]:
    if pg_unavailable:
        pytest.skip(pg_unavailable)
    template = f"sophon_tpl_{os.getpid()}"
    pg_admin(f'DROP DATABASE IF EXISTS "{template}"', f'CREATE DATABASE "{template}"')
    migrate.upgrade(_pg_url(template), metadata)
    pool = PgDatabasePool(template)
    yield pool
    pool.close()
    pg_admin(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')


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
    pool: PgDatabasePool = request.getfixturevalue("pg_pool")
    name = pool.take()
    yield _pg_url(name)
    pool.give_back(name)


class FakeClock:
    """The Gateway's clock, moved by the test instead of by waiting."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    fake = FakeClock()
    set_clock(fake)
    yield fake
    set_clock(None)


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeServer]:
    """One loopback server speaking the model providers' wire formats, for the whole run."""
    server = FakeServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("SOPHON_") and key != "SOPHON_TEST_PG":
            monkeypatch.delenv(key)
    monkeypatch.setenv("SOPHON_DATA", str(tmp_path / "data"))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data=tmp_path / "data",
        database_url=database_url,
        migrate_on_start=False,
        login_slowdown_ms=0,
        argon2_memory_kib=64,  # argon2id still, at a cost that keeps the suite fast
        argon2_time_cost=1,
        argon2_parallelism=1,
    )


@pytest.fixture
def data_dir(settings: Settings) -> Path:
    return settings.data


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def admin(client: httpx.AsyncClient, data_dir: Path) -> Caller:
    """The first Admin, made through the setup flow."""
    return await setup_admin(client, data_dir)


@asynccontextmanager
async def serve_in_process(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Runs the app's lifespan and gives an HTTP client talking to it in-process."""
    # generous: a loaded CI machine must not turn a slow start-up into a failure
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
        await app.state.started  # the runtime, skills and webhooks too, as a test expects them
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_in_process(app) as http:
        yield http


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `slow` tests (real Gateway processes, tens of seconds each) first: under xdist they
    then overlap the many short tests instead of trailing after them on one worker while the
    others sit idle. Stable, so the order within each group stays as collected."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
