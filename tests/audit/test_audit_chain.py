"""The audit trail's exports (NDJSON, CSV), its hash chain that shows a changed or removed row,
and that nothing in the API edits or deletes an entry."""

from __future__ import annotations

import csv
import io
import itertools
import json
from typing import Any

import httpx

from sophon.settings import Settings
from tests.audit.audit_helpers import AUDIT, RawDatabase, audit_entries
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user

CSV_HEADER = [
    "id", "seq", "timestamp", "actorUserId", "actorEmail", "actorRole", "action",
    "resourceType", "resourceId", "outcome", "ip", "requestId", "details", "hash",
]  # fmt: skip


async def test_export_ndjson_and_csv(client: httpx.AsyncClient, admin: Caller) -> None:
    await add_user(client, admin, "dave@example.com")
    await client.post("/api/auth/tokens", headers=admin.headers, json={"name": "x"})
    oldest_first = list(reversed(await audit_entries(client, admin)))

    ndjson = await client.get(f"{AUDIT}/export", headers=admin.headers)
    assert ndjson.status_code == 200, ndjson.text
    assert ndjson.headers["content-type"].startswith("application/x-ndjson")
    lines = ndjson.text.splitlines()
    assert ndjson.text.endswith("\n")
    assert [json.loads(line) for line in lines] == oldest_first

    as_csv = await client.get(f"{AUDIT}/export", headers=admin.headers, params={"format": "csv"})
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    header, *rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert header == CSV_HEADER
    assert len(rows) == len(oldest_first)
    for row, entry in zip(rows, oldest_first, strict=True):
        record = dict(zip(header, row, strict=True))
        assert record["id"] == entry["id"]
        assert int(record["seq"]) == entry["seq"]
        assert record["action"] == entry["action"]
        assert record["actorEmail"] == (entry["actor"]["email"] or "")
        assert record["requestId"] == entry["requestId"]
        assert json.loads(record["details"]) == entry["details"]
        assert record["hash"] == entry["hash"]

    only = {"action": "user.", "actor": admin.id}
    filtered = await client.get(f"{AUDIT}/export", headers=admin.headers, params=only)
    assert [json.loads(line)["action"] for line in filtered.text.splitlines()] == ["user.create"]
    filtered_csv = await client.get(
        f"{AUDIT}/export", headers=admin.headers, params=only | {"format": "csv"}
    )
    assert [r[6] for r in csv.reader(io.StringIO(filtered_csv.text))] == ["action", "user.create"]
    bad = await client.get(f"{AUDIT}/export", headers=admin.headers, params={"format": "xml"})
    assert_error(bad, 422, "validation_failed")


async def verify(client: httpx.AsyncClient, admin: Caller) -> dict[str, Any]:
    response = await client.get(f"{AUDIT}/verify", headers=admin.headers)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


async def chain_of_five(client: httpx.AsyncClient, admin: Caller) -> list[Any]:
    for index in range(4):
        await client.post("/api/auth/tokens", headers=admin.headers, json={"name": f"t{index}"})
    entries = list(reversed(await audit_entries(client, admin)))
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    for before, after in itertools.pairwise(entries):
        assert after["prevHash"] == before["hash"]
    return entries


async def test_verify_an_untouched_chain(client: httpx.AsyncClient, admin: Caller) -> None:
    entries = await chain_of_five(client, admin)
    assert entries[0]["prevHash"] == "0" * 64
    assert await verify(client, admin) == {"ok": True, "checked": 5, "brokenAt": None}


async def test_verify_finds_a_changed_entry(
    client: httpx.AsyncClient, admin: Caller, settings: Settings
) -> None:
    entries = await chain_of_five(client, admin)
    target = entries[2]
    forged = json.dumps({"name": "innocent"})
    await RawDatabase(settings.db_url).execute(
        "UPDATE audit_entries SET details = $1 WHERE id = $2", forged, target["id"]
    )
    report = await verify(client, admin)
    assert report["ok"] is False
    assert report["checked"] == 2
    assert report["brokenAt"] == {
        "id": target["id"],
        "seq": 3,
        "reason": "its contents were changed",
    }


async def test_verify_finds_a_removed_middle_entry(
    client: httpx.AsyncClient, admin: Caller, settings: Settings
) -> None:
    entries = await chain_of_five(client, admin)
    await RawDatabase(settings.db_url).execute(
        "DELETE FROM audit_entries WHERE id = $1", entries[2]["id"]
    )
    report = await verify(client, admin)
    assert report["ok"] is False
    assert report["checked"] == 2
    assert report["brokenAt"]["id"] == entries[3]["id"]
    assert report["brokenAt"]["seq"] == 4
    assert "3" in report["brokenAt"]["reason"]


async def test_verify_finds_a_removed_last_entry(
    client: httpx.AsyncClient, admin: Caller, settings: Settings
) -> None:
    entries = await chain_of_five(client, admin)
    await RawDatabase(settings.db_url).execute(
        "DELETE FROM audit_entries WHERE id = $1", entries[-1]["id"]
    )
    report = await verify(client, admin)
    assert report["ok"] is False
    assert report["checked"] == 4
    assert report["brokenAt"]["seq"] == 5
    assert report["brokenAt"]["reason"]


async def test_no_route_edits_or_deletes_entries(client: httpx.AsyncClient, admin: Caller) -> None:
    entries = await audit_entries(client, admin)
    entry_path = f"{AUDIT}/{entries[0]['id']}"
    for path in (AUDIT, f"{AUDIT}/export", f"{AUDIT}/verify"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            response = await client.request(method, path, headers=admin.headers, json={})
            assert_error(response, 405, "method_not_allowed")
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        response = await client.request(method, entry_path, headers=admin.headers, json={})
        assert response.status_code in (404, 405), (method, response.text)
    assert await audit_entries(client, admin) == entries
    assert (await verify(client, admin))["ok"] is True


async def test_reading_the_trail_needs_view_audit(client: httpx.AsyncClient, admin: Caller) -> None:
    viewer = await add_user(client, admin, "viewer@example.com", ["Viewer"])
    for path in (AUDIT, f"{AUDIT}/export", f"{AUDIT}/verify"):
        error = assert_error(await client.get(path, headers=viewer.headers), 403, "not_authorized")
        assert error["details"]["permission"] == "ViewAudit"
    assert_error(await client.get(AUDIT), 401, "unauthenticated")
