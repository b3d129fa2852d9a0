"""Bad inputs and hostile files: exact status and code, nothing written; zip bombs, a PDF of
100,000 pages and deep nesting end Failed with a clear error while the Gateway answers."""

from __future__ import annotations

import asyncio
import io
import zipfile

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from sophon.settings import Settings
from tests.documents.document_helpers import DOCS, get_doc, run_pipeline, upload
from tests.identity_helpers import Caller, add_user


async def _count(app: FastAPI, table: str) -> int:
    async with app.state.gateway.db.transaction(readonly=True) as db:
        return int(await db.scalar(text(f"SELECT count(*) FROM {table}")))  # noqa: S608


def _stored(settings: Settings) -> list[str]:
    root = settings.data / "documents"
    return [p.name for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_executable_named_pdf_is_415_with_the_detected_type(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller, settings: Settings
) -> None:
    elf = b"\x7fELF\x02\x01\x01" + b"\x00" * 200
    answer = await upload(client, admin, [("invoice.pdf", elf)], expect=415)
    assert answer["error"]["code"] == "unsupported_media_type"
    assert answer["error"]["details"]["detectedType"] == "application/x-executable"
    assert await _count(app, "documents") == 0
    assert _stored(settings) == []


async def test_unknown_binary_and_text_in_pdf_clothing_are_415(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    answer = await upload(client, admin, [("blob.bin", b"\x00\x01\x02\xff" * 50)], expect=415)
    assert answer["error"]["details"]["detectedType"] == "application/octet-stream"
    answer = await upload(client, admin, [("fake.pdf", b"just text")], expect=415)
    assert answer["error"]["details"]["detectedType"] == "text/plain"
    # one bad file refuses the whole upload
    await upload(client, admin, [("ok.txt", b"fine"), ("bad.pdf", b"text")], expect=415)
    assert await _count(app, "documents") == 0


async def test_upload_over_the_limit_is_413_while_streaming(
    settings: Settings, admin: Caller, client: httpx.AsyncClient
) -> None:
    from sophon.app import create_app
    from tests.conftest import serve_in_process

    small = create_app(settings.model_copy(update={"max_upload_bytes": 4096}))
    async with serve_in_process(small) as http:

        async def body() -> object:
            yield b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n\r\n'
            for _ in range(20):
                yield b"x" * 1024
            yield b"\r\n--b--\r\n"

        response = await http.post(
            f"{DOCS}/upload",
            headers={**admin.headers, "Content-Type": "multipart/form-data; boundary=b"},
            content=body(),
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
        async with small.state.gateway.db.transaction(readonly=True) as db:
            assert await db.scalar(text("SELECT count(*) FROM documents")) == 0


async def test_bad_fields_are_422_and_write_nothing(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    answer = await upload(client, admin, [("a.txt", b"x")], expect=422, tags="bad tag!")
    assert answer["error"]["code"] == "validation_failed"
    assert answer["error"]["details"]["fields"][0]["field"] == "body.tags"
    response = await client.post(f"{DOCS}/upload", headers=admin.headers, data={"tags": "x"})
    assert response.status_code == 422
    assert await _count(app, "documents") == 0


async def test_duplicate_upload_returns_the_existing_document(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    first = (await upload(client, admin, [("a.txt", b"same bytes")]))["items"][0]
    again = (await upload(client, admin, [("b.txt", b"same bytes")]))["items"][0]
    assert again["id"] == first["id"]
    assert again["duplicate"] is True
    forced = await upload(client, admin, [("b.txt", b"same bytes")], params={"duplicate": "true"})
    assert forced["items"][0]["id"] != first["id"]
    assert await _count(app, "documents") == 2


def _zip_bomb(inner: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open(inner, "w", force_zip64=True) as member:
            block = b"\x00" * (1024 * 1024)
            for _ in range(600):  # 600 MiB inflated, about 600 KiB compressed
                member.write(block)
    return buffer.getvalue()


def _huge_pdf(pages: int) -> bytes:
    """A valid PDF whose page tree counts `pages` pages (each a reference to one page)."""
    kids = " ".join("3 0 R" for _ in range(pages))
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out


@pytest.mark.parametrize(
    ("name", "make", "code", "words"),
    [
        ("bomb.docx", lambda: _zip_bomb("word/document.xml"), "too_large", "zip bomb"),
        ("bomb.xlsx", lambda: _zip_bomb("xl/worksheets/sheet1.xml"), "too_large", "zip bomb"),
        ("huge.pdf", lambda: _huge_pdf(100_000), "too_large", "100000 pages"),
        ("deep.json", lambda: b"[" * 200_000 + b"]" * 200_000, "too_large", "nested too deeply"),
        ("empty.txt", lambda: b"   \n\n  ", "empty_text", "no text"),
    ],
)
async def test_hostile_files_fail_clearly_and_the_gateway_answers(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: Caller,
    name: str,
    make: object,
    code: str,
    words: str,
) -> None:
    data = make()  # type: ignore[operator]
    doc_id = (await upload(client, admin, [(name, data)]))["items"][0]["id"]
    running = asyncio.create_task(run_pipeline(app))
    health = await client.get("/api/health")
    assert health.status_code == 200  # answered while extraction runs in its child process
    assert await running == ["Failed"]
    doc = await get_doc(client, admin, doc_id)
    assert doc["status"] == "Failed"
    assert doc["errorCode"] == code
    assert words in doc["error"]
    assert doc["text"] is None


async def test_encrypted_pdf_fails_as_encrypted(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    import pypdf

    from tests.documents.document_helpers import pdf_bytes

    writer = pypdf.PdfWriter(clone_from=io.BytesIO(pdf_bytes(["secret"])))
    writer.encrypt("pw")
    buffer = io.BytesIO()
    writer.write(buffer)
    doc_id = (await upload(client, admin, [("locked.pdf", buffer.getvalue())]))["items"][0]["id"]
    assert await run_pipeline(app) == ["Failed"]
    assert (await get_doc(client, admin, doc_id))["errorCode"] == "encrypted"


async def test_another_users_document_is_404_and_raw_serves_ranges(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    doc_id = (await upload(client, admin, [('we"ird\r\nname ü.txt', b"0123456789")]))["items"][0][
        "id"
    ]
    raw = await client.get(f"{DOCS}/{doc_id}/raw", headers=admin.headers)
    assert raw.status_code == 200
    assert raw.content == b"0123456789"
    assert raw.headers["content-type"].startswith("text/plain")
    disposition = raw.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "\r" not in disposition
    assert '"we"' not in disposition
    part = await client.get(f"{DOCS}/{doc_id}/raw", headers={**admin.headers, "Range": "bytes=2-4"})
    assert part.status_code == 206
    assert part.content == b"234"
    other = await add_user(client, admin, "member@example.com", ["Member"])
    for path in (f"{DOCS}/{doc_id}", f"{DOCS}/{doc_id}/raw"):
        response = await client.get(path, headers=other.headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    gone = await client.delete(f"{DOCS}/{doc_id}", headers=other.headers)
    assert gone.status_code == 404


async def test_delete_erases_file_text_chunks(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller, settings: Settings
) -> None:
    doc_id = (await upload(client, admin, [("a.txt", b"unique walrus words")]))["items"][0]["id"]
    await run_pipeline(app)
    assert await _count(app, "document_chunks") == 1
    assert len(_stored(settings)) == 1
    response = await client.delete(f"{DOCS}/{doc_id}", headers=admin.headers)
    assert response.status_code == 204
    assert await _count(app, "document_chunks") == 0
    assert await _count(app, "document_pages") == 0
    assert _stored(settings) == []
    found = await client.get(f"{DOCS}/search", headers=admin.headers, params={"q": "walrus"})
    assert found.json()["items"] == []
    assert (await client.get(f"{DOCS}/{doc_id}", headers=admin.headers)).status_code == 404
