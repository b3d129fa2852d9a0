"""How an audit entry is sealed: an HMAC-SHA256 over its canonical form, with a key kept outside
the database (`SOPHON_AUDIT_KEY` or `<data>/security/audit.key`), so that someone who can write
the database but not read the key can't rewrite an entry and recompute the links after it.

Entries written before the key existed (`key_id` NULL) carry the old unkeyed SHA-256; they stay
as they are and are closed by a keyed `audit.seal` entry whose HMAC covers their head, written on
the data dir's first start with a key. After it, an unkeyed entry is accepted only below a seal."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from sophon.audit.models import AuditEntry
from sophon.platform.clock import iso
from sophon.platform.keys import load_or_create_key
from sophon.platform.vault import vault_key_from_setting
from sophon.settings import Settings

GENESIS = "0" * 64
SEAL_ACTION = "audit.seal"


def load_audit_key(settings: Settings) -> bytes:
    """Every replica sharing a database must have the same key: set SOPHON_AUDIT_KEY, or share
    the data dir's `security/audit.key`."""
    if settings.audit_key is not None:
        return vault_key_from_setting(settings.audit_key.get_secret_value())
    return load_or_create_key(settings.data, "audit", 32)


def _sealed_marker(settings: Settings) -> Path:
    return settings.data / "security" / "audit.sealed"


def sealing_done(settings: Settings) -> bool:
    """Whether this data dir has had its one start that seals chains from before the key: that
    start happens once, so unkeyed entries forged later (the whole chain rewritten without the
    key) are not sealed by a restart. The marker sits beside the key, out of the database."""
    return _sealed_marker(settings).exists()


def mark_sealing_done(settings: Settings) -> None:
    marker = _sealed_marker(settings)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch(mode=0o600)


def key_id(key: bytes) -> str:
    """Names the key (not secret): an entry records which key sealed it."""
    return hashlib.sha256(b"sophon-audit-key:" + key).hexdigest()[:16]


def canonical(entry: AuditEntry) -> bytes:
    body = {
        "id": entry.id,
        "tenantId": entry.tenant_id,
        "seq": entry.seq,
        "timestamp": iso(entry.timestamp),
        "actor": entry.actor,
        "action": entry.action,
        "resource": {"type": entry.resource_type, "id": entry.resource_id},
        "outcome": entry.outcome,
        "ip": entry.ip,
        "requestId": entry.request_id,
        "details": entry.details,
        "prevHash": entry.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def legacy_hash(entry: AuditEntry) -> str:
    """The unkeyed hash of entries written before the audit key existed."""
    return hashlib.sha256(canonical(entry)).hexdigest()


def sealed_hash(key: bytes, entry: AuditEntry) -> str:
    return hmac.new(key, canonical(entry), hashlib.sha256).hexdigest()


def is_intact(key: bytes, entry: AuditEntry) -> bool:
    expected = legacy_hash(entry) if entry.key_id is None else sealed_hash(key, entry)
    return hmac.compare_digest(expected, entry.hash)
