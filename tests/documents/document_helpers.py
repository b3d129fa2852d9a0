"""Building real files of every format and driving the documents API in tests."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from sophon.documents import pipeline
from sophon.documents.storage import Storage
from sophon.gateway import Gateway
from sophon.memory.search import vectors
from sophon.platform.queue_models import Job
from sophon.platform.tenancy import ALL_TENANTS
from tests.identity_helpers import Caller

DOCS = "/api/documents"


def pdf_bytes(pages: list[str]) -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    for text in pages:
        y = 760
        for line in text.split("\n"):
            page.drawString(72, y, line)
            y -= 16
        page.showPage()
    page.save()
    return buffer.getvalue()


def docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Quarterly Report", level=1)
    document.add_paragraph("Revenue grew in the third quarter thanks to the Falcon product.")
    document.add_paragraph("Expand in Lisbon", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Region", "Sales"
    table.cell(1, 0).text, table.cell(1, 1).text = "North", "42"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def pptx_bytes() -> bytes:
    from pptx import Presentation

    deck = Presentation()
    for title, body in [("Roadmap", "Launch the Heron app in May"), ("Risks", "Supply delays")]:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


def xlsx_bytes() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Budget"
    sheet.append(["Item", "Cost"])
    sheet.append(["Servers", 1200])
    sheet.append(["Licences", 300])
    sheet.append(["Total", "=SUM(B2:B3)"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def with_formula_values(xlsx: bytes) -> bytes:
    """Writes cached formula values as Excel would (openpyxl saves formulas without them)."""
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<f>SUM(B2:B3)</f><v></v>", b"<f>SUM(B2:B3)</f><v>1500</v>")
                data = (
                    data.replace(b"<f>SUM(B2:B3)</f>", b"<f>SUM(B2:B3)</f><v>1500</v>", 1)
                    if b"<v>1500</v>" not in data
                    else data
                )
            target.writestr(item, data)
    return out.getvalue()


def png_bytes(text: str) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (900, 120), "white")
    draw = ImageDraw.Draw(image)
    try:
        font: Any = ImageFont.truetype("DejaVuSans.ttf", 40)
    except OSError:
        font = ImageFont.load_default(size=40)
    draw.text((20, 30), text, fill="black", font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


async def upload(
    client: httpx.AsyncClient,
    caller: Caller,
    files: list[tuple[str, bytes]],
    expect: int = 202,
    params: dict[str, Any] | None = None,
    **form: str,
) -> Any:
    response = await client.post(
        f"{DOCS}/upload",
        headers=caller.headers,
        files=[("files", (name, data)) for name, data in files],
        data=form,
        params=params or {},
    )
    assert response.status_code == expect, response.text
    return response.json()


async def run_pipeline(app: FastAPI) -> list[str]:
    """Runs every queued ingestion job's pipeline (as the worker would); their statuses."""
    gateway: Gateway = app.state.gateway
    async with gateway.db.transaction() as db:
        jobs = list(
            await db.scalars(
                select(Job)
                .where(Job.kind == "documents.ingest", Job.status == "Queued")
                .execution_options(**ALL_TENANTS)
            )
        )
        for job in jobs:
            job.status = "Completed"
        todo = [(j.tenant_id, str(j.payload["documentId"])) for j in jobs]
    storage = Storage(gateway.settings.data)
    settings = gateway.settings
    return [
        await pipeline.ingest(
            gateway.db, storage, settings, tenant, doc, lambda: vectors.embedder(settings)
        )
        for tenant, doc in todo
    ]


async def get_doc(client: httpx.AsyncClient, caller: Caller, doc_id: str, **params: Any) -> Any:
    response = await client.get(f"{DOCS}/{doc_id}", headers=caller.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()
