"""Upload → extraction in the sandboxed child → chunks → search, for every format, on SQLite
and PostgreSQL."""

from __future__ import annotations

import httpx
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
