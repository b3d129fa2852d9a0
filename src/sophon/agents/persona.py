"""The agents' Markdown files through the API: read, write with optimistic locking, history and
restore. Every state is kept as a version with its actor; an edit made on the file itself (in an
editor) is noticed whenever the API reads or writes the file and recorded with actor `disk`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents import files
from sophon.agents import service as agents
from sophon.agents.files import FileKind
from sophon.agents.models import Agent, AgentFileVersion
from sophon.audit import service as audit
from sophon.platform.db import Database
from sophon.platform.errors import Conflict, NotFound, PayloadTooLarge
from sophon.platform.ids import new_id
from sophon.platform.memo import Memo
from sophon.platform.pagination import PageParams, Paginator
from sophon.platform.principal import Principal


@dataclass(frozen=True)
class FileState:
    kind: FileKind
    content: str
    sha256: str
    version: int  # 0: never written
    updated_at: datetime | None

    @property
    def etag(self) -> str:
        return f'"{self.sha256}"'


def _state(kind: FileKind, row: AgentFileVersion | None) -> FileState:
    if row is None:
        return FileState(kind, "", files.sha256_of(""), 0, None)
    return FileState(kind, row.content, row.sha256, row.version, row.created_at)


def versions_of(agent_id: str, kind: FileKind) -> Select[AgentFileVersion]:
    return select(AgentFileVersion).where(
        AgentFileVersion.agent_id == agent_id, AgentFileVersion.kind == kind.value
    )


async def _latest(db: AsyncSession, agent_id: str, kind: FileKind) -> AgentFileVersion | None:
    stmt = versions_of(agent_id, kind).order_by(AgentFileVersion.version.desc()).limit(1)
    return await db.scalar(stmt)


def _differs(latest: AgentFileVersion | None, disk: files.DiskFile) -> bool:
    if latest is None:
        return disk.content != ""
    return latest.sha256 != disk.sha256


async def _append(
    db: AsyncSession,
    agent_id: str,
    kind: FileKind,
    content: str,
    after: AgentFileVersion | None,
    actor: Principal | None,
) -> AgentFileVersion:
    row = AgentFileVersion(
        id=new_id("afv"),
        agent_id=agent_id,
        kind=kind.value,
        version=(after.version if after else 0) + 1,
        content=content,
        sha256=files.sha256_of(content),
        actor_user_id=actor.user_id if actor else None,
        actor_email=actor.email if actor else None,
        actor_kind="user" if actor else "disk",
    )
    db.add(row)
    await db.flush()
    return row


async def _materialize(db: AsyncSession, data: Path, agent: Agent) -> None:
    """Writes the files of an agent whose folder doesn't exist yet from their latest versions
    (a default agent made where the data dir wasn't at hand, e.g. with a new tenant). A missing
    folder means "never written here"; a single missing file means "emptied on disk"."""
    if await files.has_folder(data, agent.id):
        return
    for kind in FileKind:
        latest = await _latest(db, agent.id, kind)
        if latest is not None and latest.content:
            await files.write_file(data, agent.id, kind, latest.content)


async def _sync_locked(
    db: AsyncSession, data: Path, agent: Agent, kind: FileKind
) -> AgentFileVersion | None:
    """Records the file's on-disk content as a `disk` version if it moved away from the latest
    version; the caller holds the agent's row lock. Returns the latest version."""
    await _materialize(db, data, agent)
    disk = await files.read_file(data, agent.id, kind)
    latest = await _latest(db, agent.id, kind)
    if _differs(latest, disk):
        latest = await _append(db, agent.id, kind, disk.content, latest, None)
        disk_actor = {"userId": None, "email": None, "role": "disk", "tenantId": agent.tenant_id}
        await audit.record(
            db,
            disk_actor,
            "agent.file.disk_edit",
            ("agent", agent.id),
            details={"file": kind.filename, "version": latest.version, "sha256": latest.sha256},
        )
    return latest


async def _observe(
    db: AsyncSession, database: Database, data: Path, agent: Agent, kind: FileKind
) -> AgentFileVersion | None:
    """For reads: the request's transaction is read-only, so a disk edit is recorded in a short
    write transaction of its own."""
    await _materialize(db, data, agent)
    disk = await files.read_file(data, agent.id, kind)
    latest = await _latest(db, agent.id, kind)
    if not _differs(latest, disk):
        return latest
    async with database.transaction(tenant_id=agent.tenant_id) as side:
        locked = await agents.get(side, agent.id, for_update=True)
        return await _sync_locked(side, data, locked, kind)


async def read(
    db: AsyncSession, database: Database, data: Path, agent_id: str, kind: FileKind
) -> FileState:
    agent = await agents.get(db, agent_id)
    return _state(kind, await _observe(db, database, data, agent, kind))


_NEWEST: Memo[dict[FileKind, FileState]] = Memo({"agents", "agent_file_versions"})


async def read_many(
    db: AsyncSession, database: Database, data: Path, agent_id: str, kinds: Sequence[FileKind]
) -> dict[FileKind, FileState]:
    """Several files of one agent (a turn's persona) with one agent lookup, one query and one
    trip to the disk; a file edited on disk, or an agent without a folder, takes `read`'s way.
    The stored versions are kept in memory until the agent or its files change (`Memo`): a warm
    turn reads only the disk."""

    async def newest_versions() -> dict[FileKind, FileState]:
        agent = await agents.get(db, agent_id)
        newest = (
            select(AgentFileVersion.kind, func.max(AgentFileVersion.version).label("version"))
            .where(AgentFileVersion.agent_id == agent.id, AgentFileVersion.kind.in_(kinds))
            .group_by(AgentFileVersion.kind)
            .subquery()
        )
        rows = await db.scalars(
            select(AgentFileVersion)
            .join(
                newest,
                and_(
                    AgentFileVersion.kind == newest.c.kind,
                    AgentFileVersion.version == newest.c.version,
                ),
            )
            .where(AgentFileVersion.agent_id == agent.id)
        )
        latest = {FileKind(row.kind): row for row in rows}
        return {kind: _state(kind, latest.get(kind)) for kind in kinds}

    stored = await _NEWEST.get(db, (agent_id, tuple(kinds)), newest_versions)
    disk = await files.read_files(data, agent_id, kinds)
    found = {}
    for kind in kinds:
        state = stored[kind]
        if disk is None or state.sha256 != disk[kind].sha256:
            agent = await agents.get(db, agent_id)
            state = _state(kind, await _observe(db, database, data, agent, kind))
        found[kind] = state
    return found


def _matches(if_match: str, sha256: str) -> bool:
    for tag in if_match.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        if tag.removeprefix("W/").strip('"') == sha256:
            return True
    return False


def check_size(content: str) -> None:
    size = len(content.encode())
    if size > files.MAX_FILE_BYTES:
        raise PayloadTooLarge(
            f"An agent file may hold at most {files.MAX_FILE_BYTES} bytes; this has {size}.",
            {"limitBytes": files.MAX_FILE_BYTES, "size": size},
        )


async def write(
    db: AsyncSession,
    actor: Principal,
    data: Path,
    agent_id: str,
    kind: FileKind,
    content: str,
    if_match: str | None,
) -> FileState:
    """Saves a new version and the file. With `If-Match`, refuses (409) when the file changed
    since that ETag, including by an edit on disk (which is then kept as its own version).
    The file is written last, so only a failed commit can leave it ahead of the history (the next
    read then records it as a `disk` version)."""
    check_size(content)
    agent = await agents.get(db, agent_id, for_update=True)
    latest = await _sync_locked(db, data, agent, kind)
    current = _state(kind, latest)
    if if_match is not None and not _matches(if_match, current.sha256):
        raise Conflict(
            "The file changed since you read it; reload it and apply your edit again.",
            {"etag": current.etag, "version": current.version},
            keep_writes=True,  # keep a disk edit noticed on the way
        )
    if latest is not None and latest.sha256 == files.sha256_of(content):
        return current
    row = await _append(db, agent.id, kind, content, latest, actor)
    await audit.record(
        db,
        actor,
        "agent.file.update",
        ("agent", agent.id),
        details={"file": kind.filename, "version": row.version, "sha256": row.sha256},
    )
    await files.write_file(data, agent.id, kind, content)
    return _state(kind, row)


async def versions_page(
    db: AsyncSession,
    database: Database,
    paginator: Paginator,
    data: Path,
    agent_id: str,
    kind: FileKind,
    params: PageParams,
) -> tuple[list[AgentFileVersion], str | None, bool]:
    """A page of the file's versions, newest first, after noticing a pending disk edit. When one
    was just recorded, the page is read in a fresh transaction: the request's own snapshot (on
    SQLite) predates it."""
    agent = await agents.get(db, agent_id)
    before = await _latest(db, agent.id, kind)
    after = await _observe(db, database, data, agent, kind)
    stmt = versions_of(agent.id, kind)
    order = [AgentFileVersion.version]
    scope = f"agent-file:{agent.id}:{kind.value}"
    if (after.id if after else None) == (before.id if before else None):
        return await paginator.page(db, stmt, order, params, scope)
    async with database.transaction(readonly=True, tenant_id=agent.tenant_id) as fresh:
        return await paginator.page(fresh, stmt, order, params, scope)


async def restore(
    db: AsyncSession, actor: Principal, data: Path, agent_id: str, kind: FileKind, version: int
) -> FileState:
    """Makes an earlier version current again, as a new version by the actor."""
    agent = await agents.get(db, agent_id, for_update=True)
    latest = await _sync_locked(db, data, agent, kind)
    old = await db.scalar(versions_of(agent.id, kind).where(AgentFileVersion.version == version))
    if old is None:
        raise NotFound(f"The file has no version {version}.", {"version": version})
    row = await _append(db, agent.id, kind, old.content, latest, actor)
    await audit.record(
        db,
        actor,
        "agent.file.restore",
        ("agent", agent.id),
        details={"file": kind.filename, "restored": version, "version": row.version},
    )
    await files.write_file(data, agent.id, kind, old.content)
    return _state(kind, row)
