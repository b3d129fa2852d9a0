"""The composition root: the process-wide parts, built once at start-up; services get only the
parts they use, and only routers, hubs, the agent runtime and the auth guard see the whole."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from sophon.audit.chain import load_audit_key
from sophon.cron.context import CronContext
from sophon.identity.auth.credential_cache import IDENTITY_TABLES, CredentialCache
from sophon.identity.auth.principals import SessionPolicy
from sophon.identity.auth.service import AuthConfig, LoginGuard
from sophon.license.service import LicenseService
from sophon.mcp.hub import McpHub
from sophon.platform.db import Database
from sophon.platform.events import (
    EventBus,
    build_event_bus,
    install_commit_hook,
    wait_for_released_events,
)
from sophon.platform.keys import load_or_create_key
from sophon.platform.netguard import OutboundPolicy, split_allow_setting
from sophon.platform.pagination import CursorCodec, Paginator
from sophon.platform.ratelimit import RateLimiter, RateLimitPolicy, build_rate_limiter
from sophon.platform.security import JwtCodec, configure_password_hashing
from sophon.platform.vault import Vault, vault_key_from_setting
from sophon.providers.connect import ProviderRuntime
from sophon.settings import Settings
from sophon.skills.catalog import SkillCatalog
from sophon.tools.registry import Tool, ToolRegistry
from sophon.webhooks.outbox import stage_deliveries
from sophon.workflows.triggers import WorkflowLauncher


@dataclass
class Gateway:
    settings: Settings
    db: Database
    bus: EventBus
    paginator: Paginator
    limiter: RateLimiter
    auth: AuthConfig
    license: LicenseService
    tools: ToolRegistry
    vault: Vault
    model_runtime: ProviderRuntime
    cron: CronContext
    """What cron jobs use (settings, tools, vault and the workflow launcher)."""
    mcp: McpHub
    """Links to the tenants' external MCP servers; a dynamic source of the tool catalog."""
    skills: SkillCatalog
    workflow_launcher: WorkflowLauncher
    """Starts workflows for cron jobs and inbound webhooks (their action `workflow`)."""
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when shutdown begins: long waits for clients (task long-polls) answer at once."""

    @classmethod
    def build(cls, settings: Settings) -> Gateway:
        settings.data.mkdir(parents=True, exist_ok=True)
        configure_password_hashing(
            settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
        )
        bus = build_event_bus(settings.redis_url)
        install_commit_hook(stage_deliveries)  # webhook deliveries commit with their event
        db = Database(settings.db_url, bus, audit_key=load_audit_key(settings))
        limiter = build_rate_limiter(settings.redis_url)
        jwt_key = (
            settings.jwt_secret.encode()
            if settings.jwt_secret
            else load_or_create_key(settings.data, "jwt", 64)
        )
        window = settings.login_failure_window_minutes * 60.0
        auth = AuthConfig(
            jwt=JwtCodec(jwt_key, timedelta(minutes=settings.access_token_minutes)),
            sessions=SessionPolicy(
                idle=timedelta(minutes=settings.session_idle_minutes),
                absolute=timedelta(days=settings.session_max_days),
            ),
            login_guard=LoginGuard(
                limiter=limiter,
                # refuse sign-ins rather than stop throttling them when Redis is down
                per_account=RateLimitPolicy(
                    settings.login_max_failures_per_account, window, fail_closed=True
                ),
                per_ip=RateLimitPolicy(
                    settings.login_max_failures_per_ip, window, fail_closed=True
                ),
                slowdown_seconds=settings.login_slowdown_ms / 1000,
            ),
            credentials=_credential_cache(settings, db),
        )
        tools = ToolRegistry()
        vault = Vault(
            vault_key_from_setting(settings.vault_key.get_secret_value())
            if settings.vault_key
            else load_or_create_key(settings.data, "vault", 32)
        )
        launcher = WorkflowLauncher()
        cron = CronContext(settings, tools, vault, workflows=launcher)
        tools.register_on_first_use(lambda: _builtin_tools(tools, cron))
        policy = OutboundPolicy(split_allow_setting(settings.outbound_allow))
        hub = McpHub(db, vault, policy, bus, settings.data)
        tools.add_source(hub)
        return cls(
            settings=settings,
            db=db,
            bus=bus,
            paginator=Paginator(CursorCodec(load_or_create_key(settings.data, "cursor"))),
            limiter=limiter,
            auth=auth,
            license=LicenseService(settings),
            tools=tools,
            vault=vault,
            model_runtime=ProviderRuntime.from_settings(settings),
            cron=cron,
            mcp=hub,
            workflow_launcher=launcher,
            skills=SkillCatalog(
                settings.data, tools, vault, split_allow_setting(settings.outbound_allow)
            ),
        )

    async def start(self) -> None:
        await self.bus.start()

    async def close(self) -> None:
        self.stopping.set()
        await self.mcp.close()
        await self.skills.close()
        await self.model_runtime.aclose()
        await wait_for_released_events()
        await self.bus.aclose()
        await self.limiter.aclose()
        await self.db.close()


def _credential_cache(settings: Settings, db: Database) -> CredentialCache | None:
    """Only where this process is the database's one writer (see CredentialCache)."""
    if settings.credential_cache == 0 or db.dialect != "sqlite":
        return None
    return CredentialCache(db.watch(IDENTITY_TABLES), settings.credential_cache)


def _builtin_tools(registry: ToolRegistry, cron: CronContext) -> list[Tool]:
    """The built-in tools and the workflow tools (loaded on the catalog's first use)."""
    from sophon.tools.builtins import builtin_tools
    from sophon.workflows.tools import workflow_tools

    return [*builtin_tools(cron.settings), *workflow_tools(registry, cron)]
