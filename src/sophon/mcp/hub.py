"""The process's links to the external MCP servers of every tenant, and the catalog source that
offers their tools (`tools_for`). Registrations are read from the database and reconciled: at
start-up, after a change commits, and every `RESYNC_SECONDS` (so a change made through another
replica or the config file reaches this one too)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from sophon.audit import service as audit
from sophon.connections.secrets import MissingSecret, SecretBook, books
from sophon.mcp import bridge
from sophon.mcp.models import McpServerRegistration
from sophon.mcp.spec import ServerSpec, auth_headers
from sophon.platform.db import Database
from sophon.platform.events import EventBus, EventName
from sophon.platform.netguard import OutboundPolicy, Resolver, system_resolver
from sophon.platform.principal import system_principal
from sophon.platform.tenancy import ALL_TENANTS
from sophon.platform.vault import Vault, VaultError
from sophon.tenants import service as tenants
from sophon.tools.registry import Tool

if TYPE_CHECKING:
    import mcp_types as types

    from sophon.mcp.config_file import ClientConfigFiles
    from sophon.mcp.links import Link

log = logging.getLogger("sophon.mcp")
RESYNC_SECONDS = 15.0
FILE_CHECK_SECONDS = 1.0
RUN_ACTION = "mcp.server.run"
"""The approval a stdio server's command needs (see `service`)."""


def secrets_of(row: McpServerRegistration, vault: Vault) -> dict[str, dict[str, str]]:
    """`{"env": {...}, "auth": {...}}`, decrypted (VaultError when tampered)."""
    if not row.secrets:
        return {"env": {}, "auth": {}}
    loaded: dict[str, dict[str, str]] = json.loads(vault.decrypt(row.secrets, row.id))
    return loaded


def runnable(row: McpServerRegistration) -> bool:
    """Enabled, and (a stdio server) its command approved by a person."""
    return row.enabled and (row.transport != "stdio" or row.host_approved)


def spec_of(
    row: McpServerRegistration, vault: Vault, book: SecretBook, data: Path | None = None
) -> ServerSpec:
    """The connection settings, `{{vault:<name>}}` references resolved from the tenant's
    connections (`book`); a reference that can't be resolved leaves a spec with its `problem`."""
    secrets = secrets_of(row, vault)
    problem = None
    try:
        env = book.resolve_all(secrets.get("env", {}))
        auth = book.resolve_all(secrets.get("auth", {}))
    except MissingSecret as missing:
        env, auth, problem = {}, {}, f"{missing}; create it under Connections"
    return ServerSpec(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        transport=row.transport,
        command=row.command,
        args=tuple(row.args or ()),
        env=env,
        url=row.url,
        headers=auth_headers(row.auth_type, auth),
        problem=problem,
        excluded=frozenset(row.excluded_tools or ()),
        risk_overrides=dict(row.risk_overrides or {}),
        approved=dict(row.approved_tools or {}),
        timeout_seconds=float(row.timeout_seconds),
        enabled=row.enabled,
        sandbox=(data or Path(".")) if row.sandbox and row.transport == "stdio" else None,
    )


class McpHub:
    def __init__(
        self,
        database: Database,
        vault: Vault,
        policy: OutboundPolicy,
        bus: EventBus | None = None,
        data: Path | None = None,
    ) -> None:
        self.data = data
        self.database = database
        self.bus = bus
        self.vault = vault
        self.policy = policy
        self.resolver: Resolver = system_resolver
        """Turns names into addresses for remote servers (tests inject one)."""
        self.links: dict[str, Link] = {}
        self._catalog: dict[str, list[Tool]] = {}
        self._lock = asyncio.Lock()
        self._loop_task: asyncio.Task[None] | None = None
        self._listen_task: asyncio.Task[None] | None = None
        self.ping_seconds = 10.0
        self._unknown_slugs: set[str] = set()
        self.watchers: list[Callable[[str], None]] = []
        """Told the tenant whose bridged tools changed (the MCP server's list_changed)."""

    @cached_property
    def file(self) -> ClientConfigFiles | None:
        """The operator's `mcp.json` files (their schemas load with the first reconcile)."""
        from sophon.mcp.config_file import ClientConfigFiles

        return ClientConfigFiles(self.data) if self.data is not None else None

    def _catalog_changed(self, tenant_id: str) -> None:
        for watcher in list(self.watchers):
            watcher(tenant_id)

    # --- the catalog source --------------------------------------------------------------------

    def tools_for(self, tenant_id: str) -> Iterable[Tool]:
        for link in list(self.links.values()):
            if link.spec.tenant_id == tenant_id:
                yield from self._catalog.get(link.spec.id, ())

    def link(self, registration_id: str) -> Link | None:
        return self.links.get(registration_id)

    async def _tools_listed(self, link: Link, tools: list[types.Tool]) -> None:
        """Rebuilds the link's catalog tools; pins new definitions, disables changed ones."""
        spec = link.spec
        problems: dict[str, str] = {}
        counts: dict[str, int] = {}
        for tool in tools:
            counts[tool.name] = counts.get(tool.name, 0) + 1
        catalog: list[Tool] = []
        pinned = dict(spec.approved)
        new: dict[str, str] = {}
        changed: set[str] = set()
        for tool in tools:
            if counts[tool.name] > 1:  # a collision is reported, never resolved silently
                problems[tool.name] = f"the server lists {tool.name!r} twice; neither is bridged"
                continue
            problem = bridge.name_problem(spec.name, tool.name)
            if problem is not None:
                problems[tool.name] = problem
                continue
            digest = bridge.definition_hash(tool)
            if tool.name not in pinned:
                new[tool.name] = digest
            elif pinned[tool.name] != digest:
                changed.add(tool.name)
            if tool.name not in spec.excluded:
                catalog.append(link.catalog_tool(tool))
        newly_changed = changed - link.changed
        before = [(t.name, t.description, t.parameters) for t in self._catalog.get(spec.id, [])]
        link.problems, link.changed = problems, changed
        self._catalog[spec.id] = catalog
        if before != [(t.name, t.description, t.parameters) for t in catalog]:
            self._catalog_changed(spec.tenant_id)
        if new or newly_changed:
            await self._record(link, new, newly_changed)

    async def _audit(self, link: Link, action: str, details: dict[str, Any]) -> None:
        """Connects, disconnects and tool calls of a link, in its tenant's audit trail."""
        spec = link.spec
        async with self.database.transaction(tenant_id=spec.tenant_id) as db:
            await audit.record(
                db, system_principal(spec.tenant_id, ""), action, ("mcp_server", spec.id),
                outcome="success" if details.get("ok", True) else "failure",
                details={"server": spec.name, **details},
            )  # fmt: skip

    async def _record(self, link: Link, new: dict[str, str], changed: set[str]) -> None:
        spec = link.spec
        if new:  # first sight: pinned as the registration's approved definition
            link.spec = _replace_approved(spec, {**spec.approved, **new})
        async with self.database.transaction(tenant_id=spec.tenant_id) as db:
            row = await db.get(McpServerRegistration, spec.id)
            if row is not None and new:
                row.approved_tools = {**(row.approved_tools or {}), **new}
            for name in sorted(changed):
                await audit.record(
                    db,
                    system_principal(spec.tenant_id, ""),
                    "mcp.tool.changed",
                    ("mcp_server", spec.id),
                    details={"server": spec.name, "tool": bridge.bridged_name(spec.name, name)},
                )

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.reconcile()
        self._loop_task = asyncio.create_task(self._resync(), name="mcp-hub-resync")
        if self.bus is not None:
            self._listen_task = asyncio.create_task(self._listen(self.bus), name="mcp-hub-listen")

    async def _listen(self, bus: EventBus) -> None:
        """A decided approval of a stdio server's command is applied at once."""
        wanted = EventName.APPROVAL_RESOLVED.value
        async with bus.subscribe(
            lambda e: e.name == wanted and e.payload.get("toolName") == RUN_ACTION, max_queue=64
        ) as decided:
            async for _event in decided:
                try:
                    await self.reconcile()
                except Exception:
                    log.exception("mcp: reconciling registrations failed")

    async def _resync(self) -> None:
        """The config file is looked at every `FILE_CHECK_SECONDS`, the database every
        `RESYNC_SECONDS`."""
        waited = 0.0
        while True:
            await asyncio.sleep(FILE_CHECK_SECONDS)
            waited += FILE_CHECK_SECONDS
            if waited < RESYNC_SECONDS and (self.file is None or not self.file.changed()):
                continue
            waited = 0.0
            try:
                await self.reconcile()
            except Exception:
                log.exception("mcp: reconciling registrations failed")

    async def close(self) -> None:
        for task in (self._loop_task, self._listen_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await asyncio.gather(*(link.stop() for link in self.links.values()))
        self.links.clear()
        self._catalog.clear()

    def changed_soon(self) -> None:
        """Called after a registration change commits: reconcile now, off the request."""
        task = asyncio.get_running_loop().create_task(self.reconcile())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def reconcile(self) -> None:
        """Brings the links in line with the registrations (and the config file): new or changed
        connection settings (re)connect; a change of the approved definitions alone is applied
        in place."""
        from sophon.mcp.config_file import ID_PREFIX

        async with self._lock:
            wanted = await self._wanted()
            for gone in [rid for rid in self.links if rid not in wanted]:
                await self._drop(gone)
            for rid, spec in wanted.items():
                link = self.links.get(rid)
                if link is not None and _connection(link.spec) == _connection(spec):
                    if link.spec.approved != spec.approved and not rid.startswith(ID_PREFIX):
                        link.spec = spec
                        await self._tools_listed(link, link.found.tools)
                    continue
                await self._drop(rid)
                from sophon.mcp.links import Link  # the MCP SDK loads with the first link

                link = Link(
                    spec,
                    self.policy,
                    self._tools_listed,
                    self._audit,
                    ping_seconds=self.ping_seconds,
                    resolver=self.resolver,
                )
                self.links[rid] = link
                link.start()

    async def _wanted(self) -> dict[str, ServerSpec]:
        from sophon.mcp.config_file import file_id, file_spec

        async with self.database.transaction(readonly=True) as db:
            query = select(McpServerRegistration).execution_options(**ALL_TENANTS)
            rows = list((await db.scalars(query)).all())
            files = self.file.current() if self.file is not None else {}
            slugs = {t.slug: t.id for t in await tenants.list_all(db)} if files else {}
            secrets = await books(db, self.vault)
        wanted: dict[str, ServerSpec] = {}
        for row in rows:
            if not runnable(row):
                continue
            book = secrets.get(row.tenant_id) or SecretBook(self.vault)
            try:
                wanted[row.id] = spec_of(row, self.vault, book, self.data)
            except (VaultError, ValueError) as exc:
                log.error("mcp server %s: its secrets can't be read (%s)", row.name, exc)
        for slug, entries in files.items():
            tenant_id = slugs.get(slug)
            if tenant_id is None:
                if slug not in self._unknown_slugs:
                    self._unknown_slugs.add(slug)
                    log.error("mcp: config/tenants/%s/mcp.json names no tenant; skipped", slug)
                continue
            book = secrets.get(tenant_id) or SecretBook(self.vault)
            taken = {row.name for row in rows if row.tenant_id == tenant_id}
            for name, entry in entries.items():
                if name in taken:
                    log.error("mcp: %s in %s's mcp.json is also registered; skipped", name, slug)
                elif entry.enabled:
                    spec_id = file_id(slug, name)
                    wanted[spec_id] = file_spec(entry, tenant_id, book, spec_id)
        return wanted

    async def _drop(self, registration_id: str) -> None:
        link = self.links.pop(registration_id, None)
        if self._catalog.pop(registration_id, None) and link is not None:
            self._catalog_changed(link.spec.tenant_id)
        if link is not None:
            await link.stop()


def _replace_approved(spec: ServerSpec, approved: dict[str, str]) -> ServerSpec:
    return replace(spec, approved=dict(approved))


def _connection(spec: ServerSpec) -> ServerSpec:
    """What a connection depends on: everything but the approved definitions."""
    return replace(spec, approved={})
