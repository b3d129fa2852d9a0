"""The audit trail: every mutation and auth event appends an entry in the same transaction as the
change. Entries are hash-chained per tenant so a modified, removed or reordered row is detected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit import chain
from sophon.audit.marks import exempt
from sophon.audit.models import AuditChainHead, AuditEntry
from sophon.platform.clock import utcnow
from sophon.platform.db import AUDIT_KEY_INFO, Database
from sophon.platform.emails import normalize_email
from sophon.platform.ids import new_id
from sophon.platform.principal import Principal
from sophon.platform.request_context import client_ip_var, request_id_var
from sophon.platform.tenancy import ALL_TENANTS, acting_in, session_tenant

Actor = dict[str, Any]


def anonymous_actor(email: str | None = None) -> Actor:
    return {"userId": None, "email": email, "role": None, "tenantId": None}


def _actor(who: Principal | Actor) -> Actor:
    return who.actor() if isinstance(who, Principal) else dict(who)


def _key(db: AsyncSession) -> bytes:
    key = db.sync_session.info.get(AUDIT_KEY_INFO)
    if not isinstance(key, bytes):
        raise RuntimeError("this database was opened without the audit key")
    return key


@exempt("the audit trail's own upkeep")
async def ensure_chain(db: AsyncSession) -> None:
    """Starts the session tenant's chain; called when a tenant is created."""
    if await db.get(AuditChainHead, session_tenant(db.sync_session)) is None:
        db.add(AuditChainHead(seq=0, hash=chain.GENESIS))
        await db.flush()


@exempt("the audit row itself")
async def record(
    db: AsyncSession,
    who: Principal | Actor,
    action: str,
    resource: tuple[str, str | None] | None = None,
    *,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Appends an entry to the session tenant's chain, inside the caller's transaction."""
    key = _key(db)
    head = await db.scalar(select(AuditChainHead).with_for_update())
    if head is None:
        await ensure_chain(db)
        head = await db.scalar(select(AuditChainHead).with_for_update())
        assert head is not None
    actor = _actor(who)
    now = utcnow()
    entry = AuditEntry(
        id=new_id("audit"),
        tenant_id=session_tenant(db.sync_session),
        seq=head.seq + 1,
        timestamp=now.replace(microsecond=now.microsecond // 1000 * 1000),  # wire precision
        actor=actor,
        actor_user_id=actor.get("userId"),
        action=action,
        resource_type=resource[0] if resource else None,
        resource_id=resource[1] if resource else None,
        outcome=outcome,
        ip=client_ip_var.get(),
        request_id=request_id_var.get(),
        details=details or {},
        prev_hash=head.hash,
        key_id=chain.key_id(key),
    )
    entry.hash = chain.sealed_hash(key, entry)
    head.seq, head.hash = entry.seq, entry.hash
    db.add(entry)
    await db.flush()
    return entry


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def filtered(query: AuditFilter) -> Select[AuditEntry]:
    stmt = select(AuditEntry)
    if query.actor:  # emails are stored normalised, as sign-in normalises them
        stmt = stmt.where(
            (AuditEntry.actor_user_id == query.actor)
            | (AuditEntry.actor["email"].as_string() == normalize_email(query.actor))
        )
    if query.action:
        prefix = query.action.rstrip("*")
        stmt = stmt.where(
            (AuditEntry.action == prefix) | AuditEntry.action.startswith(prefix, autoescape=True)
        )
    if query.resource_type:
        stmt = stmt.where(AuditEntry.resource_type == query.resource_type)
    if query.resource_id:
        stmt = stmt.where(AuditEntry.resource_id == query.resource_id)
    if query.outcome:
        stmt = stmt.where(AuditEntry.outcome == query.outcome)
    if query.since:
        stmt = stmt.where(AuditEntry.timestamp >= query.since)
    if query.until:
        stmt = stmt.where(AuditEntry.timestamp < query.until)
    return stmt


async def stream_entries(
    database: Database, tenant_id: str, query: AuditFilter, batch: int = 500
) -> AsyncIterator[AuditEntry]:
    """Every matching entry, oldest first, in short read transactions (no long-held snapshot)."""
    after = 0
    while True:
        async with database.transaction(readonly=True, tenant_id=tenant_id) as db:
            stmt = filtered(query).where(AuditEntry.seq > after).order_by(AuditEntry.seq)
            rows = list((await db.scalars(stmt.limit(batch))).all())
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        after = rows[-1].seq


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_at: dict[str, Any] | None


async def verify_chain(database: Database, tenant_id: str) -> ChainReport:
    """Walks the tenant's chain from the start and reports the first broken link. Entries from
    before the audit key (unkeyed) are accepted only as a prefix that a keyed entry closes."""
    key = database.audit_key
    if key is None:
        raise RuntimeError("this database was opened without the audit key")
    current = chain.key_id(key)
    checked, prev_hash, expected_seq = 0, chain.GENESIS, 1
    unsealed: dict[str, Any] | None = None  # the first unkeyed entry no keyed one follows yet
    keyed_seen = False
    async for entry in stream_entries(database, tenant_id, AuditFilter()):
        problem = None
        if entry.seq != expected_seq:
            problem = f"entry {expected_seq} is missing"
        elif entry.prev_hash != prev_hash:
            problem = "does not link to the entry before it"
        elif entry.key_id is None and keyed_seen:
            problem = "is not sealed with the audit key"
        elif entry.key_id not in (None, current):
            problem = "was sealed with another audit key"
        elif not chain.is_intact(key, entry):
            problem = "its contents were changed"
        if problem:
            link = {"id": entry.id, "seq": entry.seq, "reason": problem}
            return ChainReport(ok=False, checked=checked, broken_at=link)
        if entry.key_id is None:
            unsealed = unsealed or {"id": entry.id, "seq": entry.seq, "checked": checked}
        else:
            keyed_seen, unsealed = True, None
        checked, prev_hash, expected_seq = checked + 1, entry.hash, expected_seq + 1
    if unsealed is not None:
        link = {"id": unsealed["id"], "seq": unsealed["seq"], "reason": UNSEALED}
        return ChainReport(ok=False, checked=unsealed["checked"], broken_at=link)
    async with database.transaction(readonly=True, tenant_id=tenant_id) as db:
        head = await db.get(AuditChainHead, tenant_id)
    if head is not None and (head.seq != checked or head.hash != prev_hash):
        tail = {"id": None, "seq": checked + 1, "reason": "entries after it were removed"}
        return ChainReport(ok=False, checked=checked, broken_at=tail)
    return ChainReport(ok=True, checked=checked, broken_at=None)


UNSEALED = "is not sealed with the audit key"


@exempt("the audit trail's own upkeep (it writes its audit.seal entry)")
async def seal_legacy_chains(db: AsyncSession, *, seal: bool) -> int:
    """With `seal` (the data dir's first start with a key, see `chain.sealing_done`), closes each
    chain written before the audit key existed with a keyed `audit.seal` entry whose HMAC covers
    the unkeyed entries' head (they stay as written, so tampering done before still shows).
    Always refuses to go on when a chain is sealed with another key: replicas sharing a database
    must share the key. Returns how many chains were sealed."""
    current = chain.key_id(_key(db))
    sealed = 0
    stmt = select(AuditChainHead.tenant_id).execution_options(**ALL_TENANTS)
    for tenant_id in (await db.scalars(stmt)).all():
        with acting_in(db.sync_session, tenant_id):
            head = await db.scalar(select(AuditChainHead).with_for_update())  # one sealer
            assert head is not None
            last = await db.scalar(select(AuditEntry).where(AuditEntry.seq == head.seq))
            if last is None:
                continue
            if last.key_id is not None and last.key_id != current:
                raise AuditKeyMismatch(
                    f"the audit chain of tenant {tenant_id} is sealed with key "
                    f"{last.key_id}, this Gateway has {current}: every replica needs the same "
                    "SOPHON_AUDIT_KEY (or the same <data>/security/audit.key)"
                )
            if last.key_id is None and seal:
                details = {"legacyEntries": head.seq, "legacyHead": head.hash, "keyId": current}
                await record(db, SYSTEM_ACTOR, chain.SEAL_ACTION, details=details)
                sealed += 1
    return sealed


class AuditKeyMismatch(RuntimeError):
    """This process's audit key is not the one the chains are sealed with."""


SYSTEM_ACTOR: Actor = {"userId": None, "email": None, "role": "System", "tenantId": None}
