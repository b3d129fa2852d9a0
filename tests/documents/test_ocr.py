"""Scanned documents: an image-only PDF page read by OCR through the pipeline, and what a
document says when the `tesseract` binary is missing (the extractor called as its child runs it)."""

from __future__ import annotations

import io

import httpx
import pytest
from fastapi import FastAPI

from sophon.documents import extractors
from tests.documents.document_helpers import get_doc, pdf_bytes, png_bytes, run_pipeline, upload
from tests.identity_helpers import Caller

LIMITS = extractors.Limits(max_pages=100, max_chars=100_000, max_unzipped_bytes=10_000_000)


def _scanned_pdf(text: str) -> bytes:
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawImage(ImageReader(io.BytesIO(png_bytes(text))), 40, 600, width=500, height=66)
    page.showPage()
    page.save()
    return buffer.getvalue()


async def test_an_image_only_pdf_page_is_read_by_ocr(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    scanned = _scanned_pdf("RECEIPT TOTAL 1234")
    doc_id = (await upload(client, admin, [("scan.pdf", scanned)]))["items"][0]["id"]
    assert await run_pipeline(app) == ["Ready"]
    doc = await get_doc(client, admin, doc_id)
    assert "1234" in doc["text"]["content"]
    assert doc["pages"] == 1


def test_without_tesseract_the_document_says_it_has_no_text_layer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(extractors, "ocr_available", lambda: False)
    image = extractors.extract("image", io.BytesIO(png_bytes("HELLO")), LIMITS)
    assert image == {
        "ok": False,
        "code": "empty_text",
        "message": "This image has no text layer and OCR (tesseract) is not installed.",
    }
    mixed = pdf_bytes(["A page with text."])
    answer = extractors.extract("pdf", io.BytesIO(mixed), LIMITS)
    assert answer["ok"] is True
    scanned = extractors.extract("pdf", io.BytesIO(_scanned_pdf("X")), LIMITS)
    assert scanned["code"] == "empty_text"
    assert "no text layer and OCR (tesseract) is not installed" in scanned["message"]
