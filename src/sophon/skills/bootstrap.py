"""Skills at start-up: the bundled skills are seeded (stored and recorded once per version), then
every active version's tools join the catalog."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.platform.db import Database
from sophon.platform.errors import DomainError
from sophon.platform.events import EventBus, Subscription
from sophon.skills import authoring, installer, store
from sophon.skills import bundled as bundled_package
from sophon.skills.catalog import SKILLS_CHANGED, SkillCatalog
from sophon.skills.manifest import SKILL_MD, Manifest, parse
from sophon.skills.models import Skill, SkillVersion

BUNDLED_DIR = Path(bundled_package.__file__).parent
log = logging.getLogger("sophon.skills")


def bundled_packages() -> list[dict[str, bytes]]:
    """The files of every bundled skill (blocking)."""
    folders = sorted(p for p in BUNDLED_DIR.iterdir() if (p / SKILL_MD).is_file())
    return [
        {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts
        }
        for folder in folders
    ]


async def load(catalog: SkillCatalog, database: Database, bus: EventBus | None = None) -> None:
    """Seeds the bundled skills, registers every active version, and (with a bus) follows the
    changes other replicas make until `catalog.close()`."""
    catalog.ensure_read_tool()
    authoring.install_approval_handler(catalog)
    packages = await asyncio.to_thread(bundled_packages)
    async with database.transaction() as db:
        seeded = [await _seed(db, catalog, files) for files in packages]
        rows = (await db.execute(select(Skill.name, Skill.active_version))).all()
    # a version stored just now was parsed from these very files: not parsed (validated) again
    fresh = {(m.name, m.version): m for m in seeded if m is not None}
    for name, version in rows:
        try:
            await _apply(catalog, name, version, fresh)
        except (DomainError, OSError, ValueError) as exc:  # e.g. a data dir restored without it
            log.error("skill %s %s is not loaded: %s", name, version, exc)
    if bus is not None:
        changes = bus.subscribe(lambda e: e.name == SKILLS_CHANGED)
        catalog.follow(asyncio.create_task(_follow(catalog, database, changes)), changes)


async def _apply(
    catalog: SkillCatalog,
    name: str,
    version: str | None,
    fresh: Mapping[tuple[str, str], Manifest] = MappingProxyType({}),
) -> None:
    manifest = None
    if version is not None:
        manifest = fresh.get((name, version)) or await asyncio.to_thread(
            catalog.manifest_of, name, version
        )
    catalog.apply(name, manifest)


async def _follow(catalog: SkillCatalog, database: Database, changes: Subscription) -> None:
    async for event in changes:
        name = str(event.payload.get("name"))
        try:
            async with database.transaction(readonly=True) as db:
                skill = await db.get(Skill, name)
            await _apply(catalog, name, skill.active_version if skill else None)
        except (DomainError, OSError, ValueError) as exc:  # files not (yet) there: keep going
            log.warning("skill %s could not be reloaded: %s", name, exc)


async def _seed(
    db: AsyncSession, catalog: SkillCatalog, files: dict[str, bytes]
) -> Manifest | None:
    """Stores and records a bundled skill's version the first time; its manifest if it did.
    Replicas starting together may both store it (the same files); one records it."""
    manifest = parse(files)
    known = await db.scalar(
        select(SkillVersion.id).where(
            SkillVersion.skill_name == manifest.name, SkillVersion.version == manifest.version
        )
    )
    if known is not None:
        return None
    await asyncio.to_thread(store.write, catalog.data, manifest.name, manifest.version, files)
    try:
        async with db.begin_nested():
            await installer.record_version(
                db, manifest, files, source="bundled", source_ref=None, signature="bundled",
                signer=None, findings=[], installed_by=None, pending=False,
            )  # fmt: skip
    except IntegrityError:  # a replica starting at the same moment recorded it first
        return None
    return manifest
