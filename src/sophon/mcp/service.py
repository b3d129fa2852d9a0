"""A tenant's registrations of external MCP servers: create, read, update, delete and test, each
audited. `env` values and auth credentials go through the vault (associated data: the
registration id) and are only ever shown masked. A stdio server runs a command on the host: it
needs `ManageMcp` (the route) and an approval at Critical risk of that exact command, args and
environment names; a change to them asks again, and until then the server does not run."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.approvals import actions
from sophon.approvals import service as approvals
from sophon.approvals.models import Approval
from sophon.audit import service as audit
from sophon.audit.marks import audited
from sophon.connections import secrets
from sophon.mcp.hub import RUN_ACTION, McpHub, secrets_of, spec_of
from sophon.mcp.models import McpServerRegistration
from sophon.mcp.schemas import AuthIn, McpServerIn, McpServerPatchIn, McpTestOut
from sophon.mcp.spec import SpecProblem
from sophon.platform.clock import utcnow
from sophon.platform.errors import Conflict, NotFound, ValidationFailed
from sophon.platform.ids import new_id
from sophon.platform.netguard import OutboundRefused
from sophon.platform.principal import Principal
from sophon.platform.vault import Vault, mask_secret

ORDER = [McpServerRegistration.name]
AUTH_MASK_MAX = 40
"""The width of `auth_mask`."""


def registrations() -> Select[McpServerRegistration]:
    return select(McpServerRegistration)


async def get(db: AsyncSession, registration_id: str) -> McpServerRegistration:
    row = await db.get(McpServerRegistration, registration_id)
    if row is None:  # another tenant's row is filtered out of the session: also 404
        raise NotFound("The MCP server does not exist.", {"id": registration_id})
    return row


def _check_shape(transport: str, command: str | None, url: str | None) -> None:
    if transport == "stdio":
        if not command:
            raise ValidationFailed.on("body.command", "A stdio server needs a command.")
        if url:
            raise ValidationFailed.on("body.url", "A stdio server takes no url.")
        return
    if command:
        raise ValidationFailed.on(
            "body.command", f"A {transport} server takes a url, not a command."
        )
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed.on("body.url", f"A {transport} server needs an http(s) url.")


def _host_command(row: McpServerRegistration) -> dict[str, Any]:
    """What a person approves for a stdio server: exactly what will run."""
    return {"serverId": row.id, "command": row.command, "args": list(row.args or []),
            "envKeys": list(row.env_keys or []), "sandbox": row.sandbox}  # fmt: skip


async def _ask_to_run(db: AsyncSession, principal: Principal, row: McpServerRegistration) -> None:
    """A stdio server waits for a person to approve its command (Critical) before it runs."""
    row.host_approved = False
    if row.transport != "stdio":
        row.approval_id = None
        return
    shown = " ".join([row.command or "", *(row.args or [])])
    where = "inside the sandbox" if row.sandbox else "on the Gateway host"
    approval = await approvals.request_action(
        db,
        principal,
        action=RUN_ACTION,
        tool_name=RUN_ACTION,
        risk_level="Critical",
        arguments=_host_command(row),
        preview=f"Run `{shown[:500]}` {where} as the MCP server '{row.name}'.",
    )
    row.approval_id = approval.id


async def _on_run_approved(db: AsyncSession, approval: Approval) -> None:
    """The approved command runs only if it is still the registration's command."""
    row = await db.get(McpServerRegistration, str(approval.arguments.get("serverId")))
    if row is None or row.approval_id != approval.id:
        return
    wanted = {k: v for k, v in approval.arguments.items() if k != "action"}
    if _host_command(row) == wanted:
        row.host_approved = True
        row.updated_at = utcnow()


actions.register(RUN_ACTION, _on_run_approved)


def _auth_secret(auth: AuthIn) -> dict[str, str]:
    needed = {"bearer": ["token"], "apiKey": ["key"], "basic": ["username", "password"]}
    values = {k: v for k, v in auth.model_dump().items() if k != "type" and v is not None}
    for key in needed.get(auth.type, []):
        if not values.get(key):
            raise ValidationFailed.on(f"body.auth.{key}", f"{auth.type} auth needs {key}.")
    return values


def _store_secrets(
    row: McpServerRegistration, vault: Vault, env: dict[str, str], auth: AuthIn | None
) -> None:
    secret = _auth_secret(auth) if auth is not None else {}
    row.auth_type = auth.type if auth is not None else "none"
    row.auth_header = secret.get("header") if row.auth_type == "apiKey" else None
    credential = secret.get("token") or secret.get("key") or secret.get("password")
    row.auth_mask = _shown(credential) if credential else None
    row.env_keys = sorted(env)
    payload = {"env": env, "auth": secret}
    row.secrets = vault.encrypt(json.dumps(payload), row.id) if env or secret else None


def _shown(credential: str) -> str:
    """A `{{vault:<name>}}` reference is shown as written (it is no secret), else the mask."""
    if secrets.REFERENCE.fullmatch(credential) and len(credential) <= AUTH_MASK_MAX:
        return credential
    return mask_secret(credential)


def _summary(row: McpServerRegistration) -> dict[str, Any]:
    return {
        "name": row.name,
        "transport": row.transport,
        "command": row.command,
        "args": row.args,
        "url": row.url,
        "envKeys": row.env_keys,
        "auth": row.auth_type,
        "enabled": row.enabled,
    }


def _after_commit(db: AsyncSession, hub: McpHub) -> None:
    """The hub picks the change up once it is committed (never a rolled-back one)."""
    event.listen(db.sync_session, "after_commit", lambda _s: hub.changed_soon(), once=True)


async def _flush_unique(db: AsyncSession, name: str) -> None:
    try:
        await db.flush()
    except IntegrityError:
        raise Conflict(f"An MCP server named {name!r} already exists.", {"name": name}) from None


@audited("mcp.server.create", "approval.requested")
async def create(
    db: AsyncSession, principal: Principal, vault: Vault, hub: McpHub, body: McpServerIn
) -> McpServerRegistration:
    _check_shape(body.transport, body.command, body.url)
    taken = await db.scalar(
        select(McpServerRegistration.id).where(McpServerRegistration.name == body.name)
    )
    if taken is not None:
        raise Conflict(f"An MCP server named {body.name!r} already exists.", {"name": body.name})
    row = McpServerRegistration(
        id=new_id("mcp"),
        name=body.name,
        transport=body.transport,
        command=body.command,
        args=list(body.args),
        url=body.url,
        excluded_tools=list(body.excluded_tools),
        risk_overrides={k: v.value for k, v in body.risk_overrides.items()},
        approved_tools={},
        enabled=body.enabled,
        timeout_seconds=body.timeout_seconds,
        sandbox=body.sandbox,
        created_by=principal.user_id,
    )
    _store_secrets(row, vault, dict(body.env), body.auth)
    db.add(row)
    await _flush_unique(db, row.name)
    await _ask_to_run(db, principal, row)
    await audit.record(
        db, principal, "mcp.server.create", ("mcp_server", row.id), details=_summary(row)
    )
    _after_commit(db, hub)
    return row


@audited("mcp.server.update", "approval.requested")
async def update(
    db: AsyncSession,
    principal: Principal,
    vault: Vault,
    hub: McpHub,
    registration_id: str,
    body: McpServerPatchIn,
) -> McpServerRegistration:
    row = await get(db, registration_id)
    before = _summary(row)
    fields = body.model_fields_set
    transport = body.transport or row.transport
    command = body.command if "command" in fields else row.command
    url = body.url if "url" in fields else row.url
    _check_shape(transport, command, url)
    host_before = (row.transport, _host_command(row))
    row.transport, row.command, row.url = transport, command, url
    if body.args is not None:
        row.args = list(body.args)
    if body.excluded_tools is not None:
        row.excluded_tools = list(body.excluded_tools)
    if body.risk_overrides is not None:
        row.risk_overrides = {k: v.value for k, v in body.risk_overrides.items()}
    if body.enabled is not None:
        row.enabled = body.enabled
    if body.timeout_seconds is not None:
        row.timeout_seconds = body.timeout_seconds
    if body.sandbox is not None:
        row.sandbox = body.sandbox
    if "env" in fields or "auth" in fields:
        current = secrets_of(row, vault)
        env = dict(body.env) if body.env is not None else current.get("env", {})
        auth = body.auth
        if "auth" not in fields and row.auth_type != "none":
            auth = AuthIn(type=row.auth_type, **current.get("auth", {}))
        _store_secrets(row, vault, env, auth)
    if (row.transport, _host_command(row)) != host_before:
        await _ask_to_run(db, principal, row)
    row.updated_at = utcnow()
    await db.flush()
    await audit.record(
        db, principal, "mcp.server.update", ("mcp_server", row.id),
        details={"before": before, "after": _summary(row)},
    )  # fmt: skip
    _after_commit(db, hub)
    return row


@audited("mcp.server.delete")
async def delete(db: AsyncSession, principal: Principal, hub: McpHub, registration_id: str) -> None:
    row = await get(db, registration_id)
    summary = _summary(row)
    await db.delete(row)
    await db.flush()
    await audit.record(
        db, principal, "mcp.server.delete", ("mcp_server", registration_id), details=summary
    )
    _after_commit(db, hub)


@audited("mcp.tools.approve")
async def approve_tools(
    db: AsyncSession, principal: Principal, hub: McpHub, registration_id: str
) -> McpServerRegistration:
    """Pins the server's current tool definitions as approved: tools disabled by a changed
    definition work again."""
    from sophon.mcp.bridge import definition_hash

    row = await get(db, registration_id)
    link = hub.link(row.id)
    if link is None or link.state != "connected":
        raise Conflict(
            "The MCP server is not connected; its tools can't be approved now.", {"id": row.id}
        )
    row.approved_tools = {t.name: definition_hash(t) for t in link.found.tools}
    row.updated_at = utcnow()
    await db.flush()
    await audit.record(
        db, principal, "mcp.tools.approve", ("mcp_server", row.id),
        details={"tools": sorted(row.approved_tools)},
    )  # fmt: skip
    _after_commit(db, hub)
    return row


@audited("mcp.server.test")
async def test(
    db: AsyncSession, principal: Principal, vault: Vault, hub: McpHub, registration_id: str
) -> McpTestOut:
    """Connects, initializes, lists tools, resources and prompts; answers what was found."""
    from sophon.mcp import links  # the MCP SDK loads on first use

    row = await get(db, registration_id)
    spec = spec_of(row, vault, await secrets.book(db, vault), hub.data)
    started = time.monotonic()
    try:
        found = await links.probe(spec, hub.policy, hub.resolver)
    except (OutboundRefused, SpecProblem) as refused:
        error = refused.message if isinstance(refused, OutboundRefused) else str(refused)
        out = McpTestOut(ok=False, latency_ms=_ms(started), error=error, tested_at=utcnow())
    except Exception as exc:  # noqa: BLE001 (whatever a foreign server does is reported)
        out = McpTestOut(
            ok=False, latency_ms=_ms(started), error=links.describe(exc), tested_at=utcnow()
        )
    else:
        out = McpTestOut(
            ok=True,
            latency_ms=_ms(started),
            server_name=found.server_name,
            server_version=found.server_version,
            protocol_version=found.protocol_version,
            tools=[t.name for t in found.tools],
            resources=found.resources,
            prompts=found.prompts,
            tested_at=utcnow(),
        )
    await audit.record(
        db, principal, "mcp.server.test", ("mcp_server", row.id),
        outcome="success" if out.ok else "failure", details={"error": out.error},
    )  # fmt: skip
    return out


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
