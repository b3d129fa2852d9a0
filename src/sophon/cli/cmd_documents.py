"""`sophon documents upload|list|show|raw|search|summarize|ask|delete`. Uploads stream each file
from disk in a multipart body with a progress bar (never read whole into memory); `--wait`
follows the pipeline until every document is Ready or Failed."""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from sophon.cli.cmd_memory import highlighted
from sophon.cli.core import new_app
from sophon.cli.errors import fail
from sophon.cli.listing import AllOpt, CursorOpt, LimitOpt, progress, show_page
from sophon.cli.runtime import Runtime, runtime

app = new_app("Documents: upload, search, summaries and questions with citations.")

DOCS = "/api/documents"
CHUNK = 256 * 1024
COLUMNS = [
    ("id", "id"),
    ("name", "name"),
    ("type", "format"),
    ("status", "status"),
    ("pages", "pages"),
    ("size", "size"),
    ("tags", "tags"),
]
UPLOADED = [("id", "id"), ("name", "name"), ("status", "status"), ("duplicate", "duplicate")]
HIT_COLUMNS = [
    ("score", "score"),
    ("document", "documentName"),
    ("page", "page"),
    ("snippet", "snippet"),
]
DETAIL = [
    ("id", "id"),
    ("name", "name"),
    ("type", "mimeType"),
    ("size", "size"),
    ("sha256", "sha256"),
    ("pages", "pages"),
    ("language", "language"),
    ("status", "status"),
    ("error", "error"),
    ("vectors", "vectors"),
    ("tags", "tags"),
    ("created", "createdAt"),
]
FINAL = ("Ready", "Failed")


def _path(document: str) -> str:
    return f"{DOCS}/{quote(document, safe='')}"


def _part_head(boundary: str, name: str, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        safe = filename.replace('"', "%22").replace("\r", "").replace("\n", "")
        disposition += f'; filename="{safe}"'
        return (
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
    return f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()


def multipart(
    files: list[Path], fields: dict[str, str], advance: Any
) -> tuple[str, int, Iterator[bytes]]:
    """(content type, length, body) of a multipart upload read from disk a chunk at a time."""
    boundary = "sophon-" + secrets.token_hex(12)
    heads = [_part_head(boundary, "files", f.name) for f in files]
    tail = (
        b"".join(_part_head(boundary, k, None) + v.encode() + b"\r\n" for k, v in fields.items())
        + f"--{boundary}--\r\n".encode()
    )
    length = sum(len(h) + f.stat().st_size + 2 for h, f in zip(heads, files, strict=True))
    length += len(tail)

    def body() -> Iterator[bytes]:
        for head, file in zip(heads, files, strict=True):
            yield head
            with file.open("rb") as source:
                while block := source.read(CHUNK):
                    advance(len(block))
                    yield block
            yield b"\r\n"
        yield tail

    return f"multipart/form-data; boundary={boundary}", length, body()


def _bar(rt: Runtime, total: int) -> Progress | None:
    if rt.format == "json" or not rt.out.err.is_terminal:
        return None
    return Progress(
        TextColumn("Uploading"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=rt.out.err,
        transient=True,
    )


@app.command()
def upload(
    files: Annotated[
        list[Path], typer.Argument(help="Files to upload.", exists=True, dir_okay=False)
    ],
    tag: Annotated[list[str] | None, typer.Option(help="A tag (repeatable).")] = None,
    collection: Annotated[str | None, typer.Option(help="A collection name.")] = None,
    agent: Annotated[str | None, typer.Option(help="An agent id the documents are for.")] = None,
    shared: Annotated[bool, typer.Option(help="Visible to every member of the tenant.")] = False,
    duplicate: Annotated[
        bool, typer.Option(help="Store again even when the same bytes are already here.")
    ] = False,
    wait: Annotated[
        bool, typer.Option(help="Wait until every document is Ready or Failed.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds --wait waits at most.")] = 600.0,
) -> None:
    """Upload files (streamed from disk, with a progress bar); extraction runs in the
    background unless --wait."""
    rt = runtime()
    fields = {"visibility": "tenant" if shared else "private"}
    if tag:
        fields["tags"] = ",".join(tag)
    if collection:
        fields["collection"] = collection
    if agent:
        fields["agentId"] = agent
    total = sum(f.stat().st_size for f in files)
    bar = _bar(rt, total)
    task = bar.add_task("upload", total=total) if bar is not None else None

    def advance(size: int) -> None:
        if bar is not None and task is not None:
            bar.advance(task, size)

    content_type, length, body = multipart(files, fields, advance)
    with bar if bar is not None else nullcontext():
        response = rt.api.request(
            "POST",
            f"{DOCS}/upload",
            content=body,
            params={"duplicate": "true" if duplicate else None},
            headers={"Content-Type": content_type, "Content-Length": str(length)},
            timeout=max(60.0, total / (256 * 1024)),
        )
    items: list[dict[str, Any]] = response.json()["items"]
    if wait:
        items = _wait(rt, items, timeout)
    if rt.format == "json":
        rt.out.raw_json(items)
    else:
        rows = [
            {**i, "status": i["status"] + (f" ({i['errorCode']})" if i.get("errorCode") else "")}
            for i in items
        ]
        rt.out.items(rows, UPLOADED)
    if any(i["status"] == "Failed" for i in items):
        raise typer.Exit(1)


def _wait(rt: Runtime, items: list[dict[str, Any]], timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    done: dict[str, dict[str, Any]] = {}
    with progress(rt, "Extracting and indexing…"):
        while len(done) < len(items):
            for item in items:
                if item["id"] in done:
                    continue
                found = rt.api.get(_path(item["id"]), params={"limit": 1})
                if found["status"] in FINAL:
                    done[item["id"]] = {
                        **item,
                        **{k: found[k] for k in ("status", "errorCode", "error")},
                    }
            if len(done) < len(items):
                if time.monotonic() > deadline:
                    fail("timed out waiting for the documents to be processed")
                time.sleep(0.5)
    return [done[i["id"]] for i in items]


@app.command("list")
def list_(
    limit: LimitOpt = 50,
    cursor: CursorOpt = None,
    everything: AllOpt = False,
    status: Annotated[
        str | None, typer.Option(help="Uploaded, Extracting, Indexing, Ready, Failed.")
    ] = None,
    type_: Annotated[str | None, typer.Option("--type", help="pdf, docx, xlsx, …")] = None,
    tag: Annotated[str | None, typer.Option(help="Only documents with this tag.")] = None,
    collection: Annotated[str | None, typer.Option(help="Only this collection.")] = None,
    name: Annotated[str | None, typer.Option(help="Part of the name.")] = None,
) -> None:
    """Documents you may see, newest first."""
    params = {"status": status, "type": type_, "tag": tag, "collection": collection, "q": name}
    show_page(DOCS, COLUMNS, limit=limit, cursor=cursor, everything=everything, params=params)


def _resolve(rt: Runtime, document: str) -> str:
    """A document id, or the id of the one document with exactly this name."""
    if document.startswith("doc_"):
        return document
    page = rt.api.page(DOCS, limit=200, q=document)
    exact = [d for d in page.items if d["name"] == document]
    if len(exact) != 1:
        fail(
            f"no single document is named {document!r}; use its id"
            if exact
            else f"no document named {document!r}"
        )
    return str(exact[0]["id"])


@app.command()
def show(
    document: Annotated[str, typer.Argument(help="Document id or exact name.")],
    text: Annotated[bool, typer.Option(help="Print the extracted text.")] = False,
) -> None:
    """A document's metadata (and its text with --text)."""
    rt = runtime()
    found = rt.api.get(_path(_resolve(rt, document)))
    if rt.format == "json":
        rt.out.raw_json(found)
    elif text:
        rt.out.text((found.get("text") or {}).get("content") or "")
    else:
        rt.out.record(found, DETAIL)


@app.command()
def raw(
    document: Annotated[str, typer.Argument(help="Document id or exact name.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
) -> None:
    """The original bytes, to a file or stdout."""
    rt = runtime()
    response = rt.api.request("GET", _path(_resolve(rt, document)) + "/raw")
    if output is None:
        sys.stdout.buffer.write(response.content)
        sys.stdout.flush()
        return
    output.write_bytes(response.content)
    rt.out.note(f"Wrote {len(response.content)} bytes to {output}")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    limit: Annotated[int, typer.Option(min=1, max=50)] = 10,
) -> None:
    """Passages of your documents, best first, with document and page."""
    rt = runtime()
    found = rt.api.get(f"{DOCS}/search", params={"q": query, "limit": limit})
    if rt.format == "json":
        rt.out.raw_json(found)
        return
    if not found["items"] and rt.format == "table":
        rt.out.text(f"No matches for {query!r}.")
        return
    rows = [{**h, "snippet": highlighted(str(h.get("snippet") or ""))} for h in found["items"]]
    rt.out.items(rows, HIT_COLUMNS)


@app.command()
def summarize(
    document: Annotated[str, typer.Argument(help="Document id or exact name.")],
    length: Annotated[str, typer.Option(help="short, medium or long.")] = "medium",
    focus: Annotated[str | None, typer.Option(help="What to focus on.")] = None,
) -> None:
    """A summary by the tenant's model."""
    rt = runtime()
    with progress(rt, "Summarising…"):
        done = rt.api.post(
            _path(_resolve(rt, document)) + "/summarize",
            json={"length": length, "focus": focus},
            timeout=300,
        )
    rt.out.done(done["summary"], done)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    document: Annotated[
        list[str] | None, typer.Option("--doc", help="Only this document (repeatable).")
    ] = None,
) -> None:
    """An answer from your documents, with the passages it cites."""
    rt = runtime()
    ids = [_resolve(rt, d) for d in document] if document else None
    with progress(rt, "Thinking…"):
        done = rt.api.post(
            f"{DOCS}/ask", json={"question": question, "documentIds": ids}, timeout=300
        )
    if rt.format == "json":
        rt.out.raw_json(done)
        return
    lines = [done["answer"]]
    for n, c in enumerate(done["citations"], 1):
        lines.append(f'[{n}] {c["documentName"]}, page {c["page"]}: "{c["quote"]}"')
    rt.out.text("\n".join(lines))


@app.command()
def delete(document: Annotated[str, typer.Argument(help="Document id or exact name.")]) -> None:
    """Erase a document everywhere (file, text, chunks and vectors)."""
    rt = runtime()
    doc_id = _resolve(rt, document)
    rt.api.delete(_path(doc_id))
    rt.out.done(f"Deleted {doc_id}", {"id": doc_id, "deleted": True})
