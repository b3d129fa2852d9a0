"""The skills' side of the tool catalog: every active skill version's tools are Gateway-wide
entries (`ToolSource.SKILL`) whose handler runs the skill in the sandbox — but only for an agent
the skill is enabled for — plus `skill.read`, the progressive-disclosure tool. Bundled skills are
seeded at start-up. The registry follows committed changes (`on_commit`)."""

from __future__ import annotations

import asyncio
import importlib
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import Field
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.platform.errors import Conflict, NotFound
from sophon.platform.events import Audience, Event, Subscription, after_commit
from sophon.platform.netguard import OutboundPolicy, system_resolver
from sophon.platform.vault import Vault, VaultError
from sophon.skills import store
from sophon.skills.egress import SOCKET_INSIDE, EgressProxy, Resolver, serving
from sophon.skills.manifest import SKILL_MD, Manifest, parse
from sophon.skills.models import SkillCredential, SkillEnablement
from sophon.tools.invoke import ToolArguments, ToolContext, ToolResult, TypedHandler
from sophon.tools.registry import RiskLevel, Tool, ToolRegistry, ToolSource

SKILL_READ = "skill.read"
MAX_READ_BYTES = 64 * 1024


def ruff_binary() -> str | None:
    try:  # optional: only the bundled code.lint needs it
        return str(importlib.import_module("ruff").find_ruff_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("ruff")


def bundled_binds() -> dict[str, dict[str, str]]:
    """Host programs a bundled skill gets read-only (never offered to installed packages)."""
    ruff = ruff_binary()
    return {"code.lint": {"/opt/sophon/ruff": ruff}} if ruff else {}


class SkillReadArguments(ToolArguments):
    name: str = Field(min_length=1, max_length=64, description="The skill's name.")
    path: str = Field(
        SKILL_MD, max_length=300, description="A file of the skill; default its SKILL.md."
    )


SKILLS_CHANGED = "SkillsChanged"
"""Internal (no hub forwards it): another replica installed, removed or switched a skill."""


def on_commit(db: AsyncSession, action: Callable[[], None], skill: str | None = None) -> None:
    """Runs `action` once the session's transaction commits (never on a rollback); with
    `skill`, the other replicas are told to reload it from the database after the commit."""
    sa_event.listen(db.sync_session, "after_commit", lambda _session: action(), once=True)
    if skill is not None:
        after_commit(
            db, Event(SKILLS_CHANGED, {"name": skill}, tenant_id=None, audience=Audience())
        )


def credential_aad(tenant_id: str, skill: str, name: str) -> str:
    return f"skill-credential:{tenant_id}:{skill}:{name}"


@dataclass(frozen=True)
class SkillTool:
    """The handler of one skill tool."""

    catalog: SkillCatalog
    skill: str
    version: str
    tool: str

    async def __call__(self, context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        return await self.catalog.call(context, self.skill, self.version, self.tool, arguments)


class SkillCatalog:
    def __init__(
        self,
        data: Path,
        registry: ToolRegistry,
        vault: Vault,
        outbound_allow: tuple[str, ...] = (),
    ) -> None:
        self.data = data
        self.registry = registry
        self.vault = vault
        self.outbound_allow = outbound_allow
        self.resolver: Resolver = system_resolver
        self.active: dict[str, Manifest] = {}
        self.binds = bundled_binds()
        self._follower: tuple[asyncio.Task[None], Subscription] | None = None

    def follow(self, task: asyncio.Task[None], subscription: Subscription) -> None:
        self._follower = (task, subscription)

    async def close(self) -> None:
        """Stops following other replicas' changes."""
        if self._follower is not None:
            task, subscription = self._follower
            self._follower = None
            subscription.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # --- the registry --------------------------------------------------------------------------

    def collisions(self, manifest: Manifest) -> list[str]:
        """The manifest's tool names that another skill or a built-in already holds."""
        mine = {t.name for t in self.active.get(manifest.name, _EMPTY).tools}
        return [
            t.name
            for t in manifest.tools
            if t.name not in mine
            and (self.registry.get(t.name) is not None or t.name == SKILL_READ)
        ]

    def apply(self, name: str, manifest: Manifest | None) -> None:
        """Makes the registry hold `manifest`'s tools for skill `name` (None: no tools)."""
        previous = self.active.pop(name, None)
        for tool in previous.tools if previous else ():
            self.registry.unregister(tool.name)
        if manifest is None:
            return
        clashing = self.collisions(manifest)
        if clashing:
            raise Conflict(f"Tool names already taken: {', '.join(clashing)}.")
        from sophon.tools.builtins.sandboxed import python_unavailable_reason  # after start-up

        for declared in manifest.tools:
            self.registry.register(
                Tool(
                    name=declared.name,
                    description=declared.description,
                    parameters=declared.parameters,
                    risk=RiskLevel(declared.risk),
                    handler=SkillTool(self, name, manifest.version, declared.name),
                    source=ToolSource.SKILL,
                    unavailable=python_unavailable_reason,
                )
            )
        self.active[name] = manifest

    def manifest_of(self, name: str, version: str) -> Manifest:
        return parse(store.read_all(self.data, name, version))

    def ensure_read_tool(self) -> None:
        if self.registry.get(SKILL_READ) is None:
            self.registry.register(self._read_tool())

    # --- calls ---------------------------------------------------------------------------------

    async def call(
        self,
        context: ToolContext,
        skill: str,
        version: str,
        tool: str,
        arguments: Mapping[str, Any],
    ) -> ToolResult:
        credentials: dict[str, str] = {}
        manifest = self.active.get(skill)
        if manifest is None or manifest.version != version:
            return ToolResult.error(f"The skill {skill} is no longer installed.")
        if context.database is not None and context.tenant_id is not None:
            async with context.database.transaction(
                tenant_id=context.tenant_id, readonly=True
            ) as db:
                if context.agent_id is not None and not await is_enabled(
                    db, skill, context.agent_id
                ):
                    return ToolResult.error(
                        f"The skill {skill} is not enabled for this agent.", {"skill": skill}
                    )
                credentials = await self.credentials(db, context.tenant_id, manifest)
        try:
            files = await asyncio.to_thread(store.read_all, self.data, skill, version)
        except (NotFound, OSError) as exc:
            return ToolResult.error(f"The skill {skill} cannot run: {exc}")
        from sophon.skills.runner import Invocation, invoke  # the sandbox loads on first call

        call = Invocation(
            manifest=manifest,
            files=files,
            tool=tool,
            arguments=arguments,
            credentials=credentials,
            wall_seconds=context.remaining(),
            ro_binds=self.binds.get(skill, {}),
            env={"RUFF": "/opt/sophon/ruff"} if skill in self.binds else {},
        )
        if not manifest.network:
            return await invoke(call)
        proxy = EgressProxy(manifest.network, OutboundPolicy(self.outbound_allow), self.resolver)
        async with serving(proxy) as socket_path:
            binds = {**call.ro_binds, SOCKET_INSIDE: socket_path}
            return await invoke(replace(call, ro_binds=binds, egress=True))

    async def credentials(
        self, db: AsyncSession, tenant_id: str, manifest: Manifest
    ) -> dict[str, str]:
        if not manifest.credentials:
            return {}
        rows = await db.scalars(
            select(SkillCredential).where(
                SkillCredential.skill_name == manifest.name,
                SkillCredential.name.in_(manifest.credentials),
            )
        )
        found: dict[str, str] = {}
        for row in rows:
            try:
                found[row.name] = self.vault.decrypt(
                    row.secret, credential_aad(tenant_id, row.skill_name, row.name)
                )
            except VaultError:
                continue
        return found

    # --- skill.read ----------------------------------------------------------------------------

    def _read_tool(self) -> Tool:
        return Tool(
            name=SKILL_READ,
            description=(
                "Read an enabled skill's full instructions (its SKILL.md), or another file of "
                "the skill that SKILL.md points to, before using the skill."
            ),
            parameters=SkillReadArguments.model_json_schema(),
            risk=RiskLevel.NONE,
            handler=TypedHandler(SkillReadArguments, self._read, SKILL_READ),
            source=ToolSource.SKILL,
        )

    async def _read(self, context: ToolContext, arguments: SkillReadArguments) -> ToolResult:
        manifest = self.active.get(arguments.name)
        if manifest is None:
            return ToolResult.error(f"No active skill is named {arguments.name}.")
        if (
            context.database is not None
            and context.tenant_id is not None
            and context.agent_id is not None
        ):
            async with context.database.transaction(
                tenant_id=context.tenant_id, readonly=True
            ) as db:
                if not await is_enabled(db, arguments.name, context.agent_id):
                    return ToolResult.error(f"The skill {arguments.name} is not enabled for you.")
        content = await asyncio.to_thread(
            store.read_file, self.data, manifest.name, manifest.version, arguments.path
        )
        if content is None:
            return ToolResult.error(f"The skill {arguments.name} has no file {arguments.path}.")
        text = content[:MAX_READ_BYTES].decode("utf-8", errors="replace")
        return ToolResult(content=text, data={"skill": manifest.name, "path": arguments.path})


async def is_enabled(db: AsyncSession, skill: str, agent_id: str) -> bool:
    found = await db.scalar(
        select(SkillEnablement.id).where(
            SkillEnablement.skill_name == skill, SkillEnablement.agent_id == agent_id
        )
    )
    return found is not None


async def enabled_for_agent(db: AsyncSession, agent_id: str) -> list[str]:
    rows = await db.scalars(
        select(SkillEnablement.skill_name)
        .where(SkillEnablement.agent_id == agent_id)
        .order_by(SkillEnablement.skill_name)
    )
    return list(rows)


_EMPTY = Manifest(
    name="", version="0.0.0", description="", entrypoint=None, tools=(), credentials=(),
    network=(), memory_mb=256, cpu_seconds=10, timeout_seconds=30, raw={}, instructions="",
)  # fmt: skip
