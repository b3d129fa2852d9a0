"""The audit chain is keyed: someone who can write the database but lacks the audit key can't
rewrite an entry and recompute the links after it. Chains from before the key are sealed once."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from sophon.app import create_app
from sophon.audit.chain import canonical
from sophon.audit.models import AuditChainHead, AuditEntry
from sophon.audit.service import AuditKeyMismatch
from sophon.platform.db import Database
from sophon.settings import Settings
from tests.audit.audit_helpers import audit_entries
from tests.audit.test_audit_chain import chain_of_five, verify
from tests.conftest import serve_in_process
from tests.identity_helpers import Caller


async def _tenant_of(client: httpx.AsyncClient, caller: Caller) -> str:
    me = await client.get("/api/auth/me", headers=caller.headers)
    return str(me.json()["tenant"]["id"])


async def _relink_without_key(
    settings: Settings,
    tenant_id: str,
    from_seq: int,
    *,
    forged: dict[str, Any] | None,
    unkeyed: bool,
) -> None:
    """Straight in the database: changes entry `from_seq` (if `forged`) and recomputes it and
    every later link, and the chain head, with the old unkeyed formula (SHA-256)."""
    database = Database(settings.db_url)
    try:
        async with database.transaction(tenant_id=tenant_id) as db:
            rows = list((await db.scalars(select(AuditEntry).order_by(AuditEntry.seq))).all())
            prev = rows[from_seq - 2].hash if from_seq > 1 else "0" * 64
            for row in rows[from_seq - 1 :]:
                if row.seq == from_seq and forged is not None:
                    row.details = forged
                if unkeyed:
                    row.key_id = None
                row.prev_hash = prev
                row.hash = prev = hashlib.sha256(canonical(row)).hexdigest()
            head = await db.get(AuditChainHead, tenant_id)
            assert head is not None
            head.hash = prev
    finally:
        await database.close()


@pytest.mark.parametrize("unkeyed", [False, True], ids=["key-id-kept", "key-id-cleared"])
async def test_a_rewritten_entry_with_every_later_hash_recomputed_is_found(
    client: httpx.AsyncClient, admin: Caller, settings: Settings, unkeyed: bool
) -> None:
    entries = await chain_of_five(client, admin)
    tenant = await _tenant_of(client, admin)
    await _relink_without_key(settings, tenant, 3, forged={"name": "innocent"}, unkeyed=unkeyed)
    report = await verify(client, admin)
    assert report["ok"] is False
    assert report["checked"] == 2
    reason = "is not sealed with the audit key" if unkeyed else "its contents were changed"
    assert report["brokenAt"] == {"id": entries[2]["id"], "seq": 3, "reason": reason}


async def test_a_whole_chain_rewritten_without_the_key_is_found(
    client: httpx.AsyncClient, admin: Caller, settings: Settings
) -> None:
    entries = await chain_of_five(client, admin)
    tenant = await _tenant_of(client, admin)
    await _relink_without_key(settings, tenant, 1, forged=None, unkeyed=True)
    report = await verify(client, admin)
    unsealed = {"id": entries[0]["id"], "seq": 1, "reason": "is not sealed with the audit key"}
    assert report == {"ok": False, "checked": 0, "brokenAt": unsealed}


async def test_a_chain_from_before_the_key_is_sealed_once_on_start(
    client: httpx.AsyncClient, admin: Caller, settings: Settings
) -> None:
    await chain_of_five(client, admin)
    tenant = await _tenant_of(client, admin)
    # as the chain was before the upgrade: unkeyed hashes, no key id, no seal done yet
    await _relink_without_key(settings, tenant, 1, forged=None, unkeyed=True)
    (settings.data / "security" / "audit.sealed").unlink()
    async with serve_in_process(create_app(settings)) as restarted:
        assert await verify(restarted, admin) == {"ok": True, "checked": 6, "brokenAt": None}
        seal = (await audit_entries(restarted, admin))[0]
        assert seal["seq"] == 6
        assert seal["action"] == "audit.seal"
        assert seal["prevHash"] == seal["details"]["legacyHead"]
        assert seal["details"]["legacyEntries"] == 5
        await client.post("/api/auth/tokens", headers=admin.headers, json={"name": "after"})
        assert (await verify(restarted, admin))["checked"] == 7
    async with serve_in_process(create_app(settings)) as again:  # sealed once, not per start
        assert await verify(again, admin) == {"ok": True, "checked": 7, "brokenAt": None}
    # tampering with an unkeyed entry below the seal still shows, however it is relinked
    await _relink_without_key(settings, tenant, 2, forged={"name": "innocent"}, unkeyed=False)
    report = await verify(client, admin)
    assert report["ok"] is False
    assert report["brokenAt"] == {"id": seal["id"], "seq": 6, "reason": "its contents were changed"}


async def test_a_restart_does_not_seal_a_chain_rewritten_without_the_key(
    client: httpx.AsyncClient, admin: Caller, settings: Settings
) -> None:
    entries = await chain_of_five(client, admin)
    tenant = await _tenant_of(client, admin)
    await _relink_without_key(settings, tenant, 1, forged={"name": "innocent"}, unkeyed=True)
    async with serve_in_process(create_app(settings)) as restarted:
        report = await verify(restarted, admin)
        assert report["brokenAt"] == {
            "id": entries[0]["id"],
            "seq": 1,
            "reason": "is not sealed with the audit key",
        }
        assert "audit.seal" not in [e["action"] for e in await audit_entries(restarted, admin)]


async def test_a_gateway_with_another_audit_key_refuses_to_start(
    client: httpx.AsyncClient, admin: Caller, settings: Settings
) -> None:
    await chain_of_five(client, admin)
    other = SecretStr(base64.b64encode(b"k" * 32).decode())
    with pytest.raises(AuditKeyMismatch, match="every replica needs the same SOPHON_AUDIT_KEY"):
        async with serve_in_process(create_app(settings.model_copy(update={"audit_key": other}))):
            pass
    assert await verify(client, admin) == {"ok": True, "checked": 5, "brokenAt": None}
