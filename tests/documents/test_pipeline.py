"""Upload → extraction in the sandboxed child → chunks → search, for every format, on SQLite
and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.documents.document_helpers import (
    DOCS,
    docx_bytes,
    get_doc,
    pdf_bytes,
    png_bytes,
    pptx_bytes,
    run_pipeline,
    upload,
    with_formula_values,
    xlsx_bytes,
)
from tests.identity_helpers import Caller

FILES = {
    "report.pdf": pdf_bytes(["Alpha page about zebras", "Beta page about giraffes"]),
    "report.docx": docx_bytes(),
    "deck.pptx": pptx_bytes(),
    "budget.xlsx": with_formula_values(xlsx_bytes()),
    "table.csv": b"name,city\nAda,London\nLinus,Helsinki\n",
    "page.html": b"<html><head><script>evil()</script><style>p{}</style></head><body>"
    b"<nav>Menu</nav><main><h1>Title</h1><p>Main text about otters.</p></main>"
    b"<footer>Foot</footer></body></html>",
    "notes.md": b"# Notes\n\nRemember the milk.\n",
    "plain.txt": b"Just some plain words about kayaks.",
    "data.json": b'{"city": "Oslo", "people": [1, 2]}',
    "scan.png": png_bytes("INVOICE NUMBER 4711"),
}


async def test_every_format_is_extracted_chunked_and_searchable(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    made = await upload(client, admin, list(FILES.items()), tags="q3, review")
    assert [i["status"] for i in made["items"]] == ["Uploaded"] * len(FILES)
    ids = {i["name"]: i["id"] for i in made["items"]}
    assert set(await run_pipeline(app)) == {"Ready"}
    texts = {name: (await get_doc(client, admin, i))["text"]["content"] for name, i in ids.items()}
    assert "zebras" in texts["report.pdf"]
    assert "giraffes" in texts["report.pdf"]
    assert "# Quarterly Report" in texts["report.docx"]
    assert "- Expand in Lisbon" in texts["report.docx"]
    assert "North | 42" in texts["report.docx"]
    assert "Heron" in texts["deck.pptx"]
    assert "Total | 1500" in texts["budget.xlsx"]  # the formula's value, not the formula
    assert "Ada | London" in texts["table.csv"]
    assert "otters" in texts["page.html"]
    assert "evil" not in texts["page.html"]
    assert "Menu" not in texts["page.html"]
    assert "milk" in texts["notes.md"]
    assert "kayaks" in texts["plain.txt"]
    assert '"city": "Oslo"' in texts["data.json"]
    assert "4711" in texts["scan.png"]  # OCR
    pdf = await get_doc(client, admin, ids["report.pdf"])
    assert pdf["pages"] == 2
    assert pdf["mimeType"] == "application/pdf"
    assert pdf["tags"] == ["q3", "review"]
    assert pdf["language"] == "en" or pdf["language"] is None
    found = await client.get(f"{DOCS}/search", headers=admin.headers, params={"q": "giraffes"})
    assert found.status_code == 200, found.text
    hit = found.json()["items"][0]
    assert hit["documentId"] == ids["report.pdf"]
    assert hit["page"] == 2
    full = pdf["text"]["content"]
    assert "giraffes" in full[hit["start"] : hit["end"]]
    assert "<mark>giraffes</mark>" in hit["snippet"]
    listed = await client.get(DOCS, headers=admin.headers, params={"type": "pdf"})
    assert [d["id"] for d in listed.json()["items"]] == [ids["report.pdf"]]


async def test_text_is_paged(app: FastAPI, client: httpx.AsyncClient, admin: Caller) -> None:
    made = await upload(client, admin, [("long.txt", b"word " * 5000)])
    await run_pipeline(app)
    doc_id = made["items"][0]["id"]
    part = await get_doc(client, admin, doc_id, offset=100, limit=50)
    assert part["text"]["offset"] == 100
    assert len(part["text"]["content"]) == 50
    assert part["text"]["hasMore"] is True
    assert part["text"]["total"] == len(("word " * 5000).strip())


async def test_ready_and_failed_events_reach_the_owner(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    from tests.chat.chat_helpers import EventLog

    async with EventLog(app.state.gateway.bus) as events:
        good = (await upload(client, admin, [("a.txt", b"fine words")]))["items"][0]["id"]
        bad = (await upload(client, admin, [("b.txt", b"   ")]))["items"][0]["id"]
        await run_pipeline(app)
        ready = await events.wait_for(lambda e: e.name == "DocumentReady")
        failed = await events.wait_for(lambda e: e.name == "DocumentFailed")
    assert ready.payload["documentId"] == good
    assert failed.payload["documentId"] == bad
    assert failed.payload["errorCode"] == "empty_text"
    assert ready.audience.user_ids == frozenset({admin.id})


async def test_a_pipeline_that_crashes_on_its_last_attempt_ends_failed(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from sophon.documents import isolation, pipeline
    from sophon.platform.clock import utcnow
    from sophon.platform.queue import ClaimedJob

    doc_id = (await upload(client, admin, [("a.txt", b"words")]))["items"][0]["id"]

    async def broken(*_args: object) -> dict[str, object]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(isolation, "extract_file", broken)
    gateway = app.state.gateway
    handler = pipeline.job_handlers(gateway.db, gateway.settings)[pipeline.INGEST_JOB]
    tenant = await get_doc(client, admin, doc_id)  # the tenant comes from the session
    del tenant
    async with gateway.db.transaction(readonly=True) as db:
        from sqlalchemy import text

        tenant_id = str(await db.scalar(text("SELECT tenant_id FROM documents")))
    lease = utcnow() + timedelta(minutes=1)
    job = ClaimedJob(
        id="job_x", tenant_id=tenant_id, kind=pipeline.INGEST_JOB, payload={"documentId": doc_id},
        attempts=2, max_attempts=2, serial_key=None, lease_expires_at=lease,
    )  # fmt: skip
    with pytest.raises(RuntimeError):
        await handler(job)
    doc = await get_doc(client, admin, doc_id)
    assert doc["status"] == "Failed"
    assert doc["errorCode"] == "extraction_failed"
    assert "disk on fire" in doc["error"]


async def test_list_filters(app: FastAPI, client: httpx.AsyncClient, admin: Caller) -> None:
    await upload(client, admin, [("alpha.txt", b"one")], tags="red")
    await upload(client, admin, [("beta.md", b"two")], tags="blue", collection="c1")
    await run_pipeline(app)

    async def names(**params: str) -> list[str]:
        response = await client.get(DOCS, headers=admin.headers, params=params)
        assert response.status_code == 200, response.text
        return [d["name"] for d in response.json()["items"]]

    assert await names(tag="red") == ["alpha.txt"]
    assert await names(collection="c1") == ["beta.md"]
    assert await names(type="markdown") == ["beta.md"]
    assert await names(q="ALP") == ["alpha.txt"]
    assert await names(status="Ready") == ["beta.md", "alpha.txt"]
    assert await names(status="Failed") == []
    assert await names(createdAfter="2100-01-01T00:00:00Z") == []
    bad = await client.get(DOCS, headers=admin.headers, params={"status": "Done"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["fields"][0]["field"] == "query.status"
