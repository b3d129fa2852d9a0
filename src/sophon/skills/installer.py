"""Installing a skill version from archive bytes: signature, unpacking (archive safety), the
manifest, the static check, tool-name collisions, then the files under the data dir and the rows.
Installing a newer version keeps the earlier ones (activate rolls back)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit import service as audit
from sophon.audit.marks import audited, exempt
from sophon.platform.clock import utcnow
from sophon.platform.errors import Conflict, NotAuthorized
from sophon.platform.ids import new_id
from sophon.platform.permissions import Permission
from sophon.platform.principal import Principal
from sophon.settings import Settings
from sophon.skills import archive, scan, store, trust
from sophon.skills.catalog import SkillCatalog, on_commit
from sophon.skills.manifest import Manifest, parse
from sophon.skills.models import Skill, SkillVersion

ACTIVE, PENDING, REJECTED = "Active", "Pending", "Rejected"


@dataclass(frozen=True)
class Package:
    data: bytes
    source: str  # upload | url | marketplace | authored
    source_ref: str | None = None
    signature: str | None = None
    allow_unsigned: bool = False
    allow_flagged: bool = False
    expected_sha256: str | None = None
    pending: bool = False  # authored: stored, but usable only after its approval


def limits(settings: Settings) -> archive.Limits:
    return archive.Limits(
        archive_bytes=settings.skills_max_archive_bytes,
        unpacked_bytes=settings.skills_max_unpacked_bytes,
        files=settings.skills_max_files,
    )


@dataclass(frozen=True)
class Checked:
    verdict: trust.Verdict
    files: dict[str, bytes]
    manifest: Manifest
    findings: list[dict[str, Any]]


def check(settings: Settings, actor: Principal, package: Package) -> Checked:
    """Everything that needs no database; raises the 4xx that refuses the package (blocking)."""
    verdict = trust.verify(
        package.data, package.signature, trust.trusted_keys(settings.skills_trusted_keys)
    )
    if package.expected_sha256 and package.expected_sha256.lower() != verdict.sha256:
        raise trust.SignatureMismatch(
            "The archive's sha256 differs from the one the index lists.",
            {"sha256": verdict.sha256, "expected": package.expected_sha256},
        )
    if verdict.status in ("unsigned", "untrusted") and not package.allow_unsigned:
        why = "is not signed" if verdict.status == "unsigned" else "is signed by an unknown key"
        raise trust.UnsignedRefused(
            f"The skill {why}; install it anyway with allowUnsigned: true.",
            {"signature": "unsigned", "signer": verdict.signer},
        )
    files = archive.unpack(package.data, limits(settings))
    manifest = parse(files)
    findings = scan.scan(files)
    if findings:
        if not package.allow_flagged:
            raise scan.FlaggedSkill(
                "The static check flagged this skill: "
                + "; ".join(f"{f['file']}:{f['line']} {f['message']}" for f in findings[:5])
                + ". An admin may install it with allowFlagged: true.",
                {"findings": findings},
            )
        if not actor.can(Permission.MANAGE_SETTINGS):
            raise NotAuthorized("Only an admin (ManageSettings) may override the static check.")
    return Checked(verdict, files, manifest, findings)


@audited("skill.install")
async def install(
    db: AsyncSession,
    actor: Principal,
    catalog: SkillCatalog,
    settings: Settings,
    package: Package,
) -> SkillVersion:
    checked = await asyncio.to_thread(check, settings, actor, package)
    manifest = checked.manifest
    taken = await db.scalar(
        select(SkillVersion.id).where(
            SkillVersion.skill_name == manifest.name, SkillVersion.version == manifest.version
        )
    )
    if taken is not None:
        raise Conflict(
            f"{manifest.name} {manifest.version} is already installed; bump the version.",
            {"name": manifest.name, "version": manifest.version},
        )
    clashing = catalog.collisions(manifest)
    if clashing:
        raise Conflict(
            f"Tool names already taken by a built-in or another skill: {', '.join(clashing)}.",
            {"tools": clashing},
        )
    data = catalog.data
    await asyncio.to_thread(store.write, data, manifest.name, manifest.version, checked.files)
    signature = "signed" if checked.verdict.status == "signed" else "unsigned"
    version = await record_version(
        db, manifest, checked.files, source=package.source, source_ref=package.source_ref,
        signature=signature, signer=checked.verdict.signer, findings=checked.findings,
        installed_by=actor.email or actor.user_id, pending=package.pending,
    )  # fmt: skip
    version.sha256 = checked.verdict.sha256
    await db.flush()
    if not package.pending:
        on_commit(db, lambda: catalog.apply(manifest.name, manifest), manifest.name)
    await audit.record(
        db,
        actor,
        "skill.install",
        ("skill", manifest.name),
        details={
            "version": manifest.version,
            "source": package.source,
            "sourceRef": package.source_ref,
            "sha256": checked.verdict.sha256,
            "signature": signature,
            "signer": checked.verdict.signer,
            "status": version.status,
            "flagged": len(checked.findings),
        },
    )
    return version


@exempt("part of install (audited there) and of seeding the bundled skills at start-up")
async def record_version(
    db: AsyncSession,
    manifest: Manifest,
    files: dict[str, bytes],
    *,
    source: str,
    source_ref: str | None,
    signature: str,
    signer: str | None,
    findings: list[dict[str, Any]],
    installed_by: str | None,
    pending: bool,
) -> SkillVersion:
    """The rows of a stored version (its files are already written); it becomes the active one
    unless it waits for an approval."""
    skill = await db.get(Skill, manifest.name, with_for_update=True)
    if skill is None:
        skill = Skill(name=manifest.name, active_version=None)
        db.add(skill)
    seq = await db.scalar(
        select(func.coalesce(func.max(SkillVersion.seq), 0)).where(
            SkillVersion.skill_name == manifest.name
        )
    )
    version = SkillVersion(
        id=new_id("skv"),
        skill_name=manifest.name,
        version=manifest.version,
        seq=int(seq or 0) + 1,
        description=manifest.description,
        status=PENDING if pending else ACTIVE,
        source=source,
        source_ref=source_ref,
        sha256=trust.sha256_hex(archive.pack_zip(files)),
        signature=signature,
        signer=signer,
        manifest=manifest.raw,
        files=sorted(files),
        findings=findings,
        installed_by=installed_by,
    )
    db.add(version)
    if not pending:
        skill.active_version = manifest.version
    skill.updated_at = utcnow()
    await db.flush()
    return version
