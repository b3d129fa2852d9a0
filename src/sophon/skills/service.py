"""The skills domain: reading installed skills, uninstalling, per-agent enablement, rolling a
skill back to an earlier version, and the credentials a tenant gives a skill. Installing lives in
`installer` (the package checks), authoring in `authoring`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents import service as agents
from sophon.audit import service as audit
from sophon.audit.marks import audited
from sophon.platform.clock import utcnow
from sophon.platform.errors import Conflict, NotFound, ValidationFailed
from sophon.platform.ids import new_id
from sophon.platform.principal import Principal
from sophon.platform.tenancy import ALL_TENANTS, acting_in
from sophon.platform.vault import Vault
from sophon.skills import store
from sophon.skills.catalog import SKILL_READ, SkillCatalog, credential_aad, on_commit
from sophon.skills.installer import ACTIVE
from sophon.skills.manifest import SKILL_MD
from sophon.skills.models import Skill, SkillCredential, SkillEnablement, SkillVersion


@dataclass(frozen=True)
class SkillView:
    skill: Skill
    versions: list[SkillVersion]  # newest install first
    enabled_agents: list[str]
    configured_credentials: list[str]

    @property
    def current(self) -> SkillVersion:
        active = [v for v in self.versions if v.version == self.skill.active_version]
        return active[0] if active else self.versions[0]


def listing() -> Select[tuple[Skill]]:
    return select(Skill)


async def view(db: AsyncSession, skill: Skill) -> SkillView:
    versions = list(
        await db.scalars(
            select(SkillVersion)
            .where(SkillVersion.skill_name == skill.name)
            .order_by(SkillVersion.seq.desc())
        )
    )
    enabled = list(
        await db.scalars(
            select(SkillEnablement.agent_id)
            .where(SkillEnablement.skill_name == skill.name)
            .order_by(SkillEnablement.agent_id)
        )
    )
    configured = list(
        await db.scalars(
            select(SkillCredential.name)
            .where(SkillCredential.skill_name == skill.name)
            .order_by(SkillCredential.name)
        )
    )
    return SkillView(skill, versions, enabled, configured)


async def views(db: AsyncSession, skills: list[Skill]) -> list[SkillView]:
    return [await view(db, skill) for skill in skills]


async def get(db: AsyncSession, name: str, *, for_update: bool = False) -> Skill:
    skill = await db.get(Skill, name, with_for_update=for_update)
    if skill is None:
        raise NotFound(f"No skill is named {name}.", {"name": name})
    return skill


async def get_view(db: AsyncSession, name: str) -> SkillView:
    return await view(db, await get(db, name))


async def detail(db: AsyncSession, catalog: SkillCatalog, name: str) -> tuple[SkillView, str]:
    """The skill and the SKILL.md of its current version."""
    found = await get_view(db, name)
    content = await asyncio.to_thread(
        store.read_file, catalog.data, name, found.current.version, SKILL_MD
    )
    return found, (content or b"").decode("utf-8", errors="replace")


@audited("skill.uninstall")
async def uninstall(db: AsyncSession, actor: Principal, catalog: SkillCatalog, name: str) -> None:
    """Removes the skill everywhere: every tenant's agents lose its tools at once (their
    allowlists drop its tool names), its files and credentials are deleted."""
    skill = await get(db, name, for_update=True)
    enabled = (
        await db.execute(
            select(SkillEnablement.tenant_id, SkillEnablement.agent_id)
            .where(SkillEnablement.skill_name == name)
            .execution_options(**ALL_TENANTS)
        )
    ).all()
    tools = _tool_names(catalog, name)
    for tenant_id, agent_id in enabled:
        with acting_in(db.sync_session, tenant_id):
            await _revoke(db, actor, catalog, agent_id, tools, keep_read=True)
    for table in (SkillEnablement, SkillCredential):
        await db.execute(
            delete(table).where(table.skill_name == name).execution_options(**ALL_TENANTS)
        )
    await db.execute(delete(SkillVersion).where(SkillVersion.skill_name == name))
    await db.delete(skill)
    await db.flush()
    data = catalog.data

    def forget() -> None:
        catalog.apply(name, None)
        store.remove(data, name)

    on_commit(db, forget, name)
    await audit.record(
        db, actor, "skill.uninstall", ("skill", name), details={"agents": len(enabled)}
    )


@audited("skill.enable")
async def enable(
    db: AsyncSession, actor: Principal, catalog: SkillCatalog, name: str, agent_id: str
) -> SkillView:
    """Enables the skill for an agent of the tenant: its tools (and `skill.read`) join the
    agent's allowlist. Enabling again grants tools a newer version added, else changes nothing."""
    skill = await get(db, name)
    agent = await agents.get(db, agent_id)
    existing = await db.scalar(
        select(SkillEnablement).where(
            SkillEnablement.skill_name == name, SkillEnablement.agent_id == agent.id
        )
    )
    if existing is None:
        db.add(SkillEnablement(id=new_id("sken"), skill_name=name, agent_id=agent.id))
        await db.flush()
    # again for an enabled skill too: a newer version's new tools are granted this way
    wanted = [*_tool_names(catalog, name), SKILL_READ]
    current = _still_valid(catalog, agent.tools)
    missing = [t for t in wanted if t not in current]
    if missing:
        await agents.set_tools(db, actor, catalog.registry, agent.id, current + missing)
    if existing is None or missing:
        await audit.record(
            db, actor, "skill.enable", ("skill", name), details={"agentId": agent.id}
        )
    return await view(db, skill)


@audited("skill.disable")
async def disable(
    db: AsyncSession, actor: Principal, catalog: SkillCatalog, name: str, agent_id: str
) -> SkillView:
    """Disables the skill for the agent: its tools leave the agent's allowlist."""
    skill = await get(db, name)
    agent = await agents.get(db, agent_id)
    existing = await db.scalar(
        select(SkillEnablement).where(
            SkillEnablement.skill_name == name, SkillEnablement.agent_id == agent.id
        )
    )
    if existing is not None:
        await db.delete(existing)
        await db.flush()
        await _revoke(db, actor, catalog, agent.id, _tool_names(catalog, name), keep_read=False)
        await audit.record(
            db, actor, "skill.disable", ("skill", name), details={"agentId": agent.id}
        )
    return await view(db, skill)


async def _revoke(
    db: AsyncSession,
    actor: Principal,
    catalog: SkillCatalog,
    agent_id: str,
    tools: list[str],
    *,
    keep_read: bool,
) -> None:
    try:
        agent = await agents.get(db, agent_id)
    except NotFound:
        return
    others = await db.scalar(
        select(SkillEnablement.id).where(SkillEnablement.agent_id == agent_id).limit(1)
    )
    dropped = set(tools) | (set() if keep_read or others is not None else {SKILL_READ})
    kept = [t for t in _still_valid(catalog, agent.tools) if t not in dropped]
    if kept != agent.tools:
        await agents.set_tools(db, actor, catalog.registry, agent.id, kept)


def _still_valid(catalog: SkillCatalog, patterns: list[str]) -> list[str]:
    """The allowlist entries that still match the catalog (a removed tool's name grants
    nothing and would make the allowlist fail validation)."""
    return [p for p in patterns if _matches(catalog, p)]


def _matches(catalog: SkillCatalog, pattern: str) -> bool:
    try:
        catalog.registry.expand([pattern])
    except ValueError:
        return False
    return True


def _tool_names(catalog: SkillCatalog, name: str) -> list[str]:
    manifest = catalog.active.get(name)
    return [t.name for t in manifest.tools] if manifest else []


@audited("skill.activate")
async def activate(
    db: AsyncSession, actor: Principal, catalog: SkillCatalog, name: str, version: str
) -> SkillView:
    """Makes an installed (and approved) version the one agents use: a rollback or a roll
    forward. Agents keep their allowlists: tool names the version lacks grant nothing, and
    tools it adds are granted by enabling the skill again."""
    skill = await get(db, name, for_update=True)
    row = await db.scalar(
        select(SkillVersion).where(SkillVersion.skill_name == name, SkillVersion.version == version)
    )
    if row is None:
        raise NotFound(f"{name} has no version {version}.", {"name": name, "version": version})
    if row.status != ACTIVE:
        raise Conflict(f"{name} {version} is {row.status}; only approved versions can be used.")
    manifest = await asyncio.to_thread(catalog.manifest_of, name, version)
    current = catalog.active.get(name)
    mine = {t.name for t in current.tools} if current else set()
    taken = [
        t.name
        for t in manifest.tools
        if t.name not in mine and catalog.registry.get(t.name) is not None
    ]
    if taken:
        raise Conflict(f"Tool names already taken: {', '.join(taken)}.", {"tools": taken})
    before = skill.active_version
    skill.active_version = version
    skill.updated_at = utcnow()
    await db.flush()
    on_commit(db, lambda: catalog.apply(name, manifest), name)
    await audit.record(
        db, actor, "skill.activate", ("skill", name), details={"from": before, "to": version}
    )
    return await view(db, skill)


@audited("skill.credential.set")
async def set_credential(
    db: AsyncSession,
    actor: Principal,
    vault: Vault,
    catalog: SkillCatalog,
    name: str,
    credential: str,
    value: str,
) -> SkillView:
    """Stores (encrypted) a credential the skill's manifest asks for, for this tenant."""
    skill = await get(db, name)
    manifest = catalog.active.get(name)
    declared = manifest.credentials if manifest else ()
    if credential not in declared:
        raise ValidationFailed(
            f"{name} declares no credential {credential}.",
            {"path": "credential", "declared": list(declared)},
        )
    row = await db.scalar(
        select(SkillCredential).where(
            SkillCredential.skill_name == name, SkillCredential.name == credential
        )
    )
    if row is None:
        row = SkillCredential(id=new_id("skcr"), skill_name=name, name=credential, secret="")
        db.add(row)
    row.secret = vault.encrypt(value, credential_aad(actor.tenant_id, name, credential))
    row.updated_at = utcnow()
    await db.flush()
    await audit.record(
        db, actor, "skill.credential.set", ("skill", name), details={"credential": credential}
    )
    return await view(db, skill)


@audited("skill.credential.delete")
async def delete_credential(db: AsyncSession, actor: Principal, name: str, credential: str) -> None:
    await get(db, name)
    deleted = await db.execute(
        delete(SkillCredential).where(
            SkillCredential.skill_name == name, SkillCredential.name == credential
        )
    )
    if not getattr(deleted, "rowcount", 0):
        raise NotFound(f"{name} has no stored credential {credential}.")
    await audit.record(
        db, actor, "skill.credential.delete", ("skill", name), details={"credential": credential}
    )
