"""Which formats are accepted, decided from the extension, the declared type and the first bytes
(sniffed): an extension and content that disagree (a `.pdf` that is an executable) are refused
with the detected type, and so is a file whose content is of no known format."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

import filetype

SNIFF_BYTES = 8192


class Format(StrEnum):
    PDF = "pdf"
    DOCX = "docx"
    PPTX = "pptx"
    XLSX = "xlsx"
    CSV = "csv"
    HTML = "html"
    MARKDOWN = "markdown"
    TEXT = "text"
    JSON = "json"
    IMAGE = "image"


MIME: dict[Format, str] = {
    Format.PDF: "application/pdf",
    Format.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    Format.PPTX: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    Format.CSV: "text/csv",
    Format.HTML: "text/html",
    Format.MARKDOWN: "text/markdown",
    Format.TEXT: "text/plain",
    Format.JSON: "application/json",
}
IMAGE_MIMES = frozenset(
    {"image/png", "image/jpeg", "image/webp", "image/tiff", "image/bmp", "image/gif"}
)
BY_EXTENSION: dict[str, Format] = {
    "pdf": Format.PDF,
    "docx": Format.DOCX,
    "pptx": Format.PPTX,
    "xlsx": Format.XLSX,
    "csv": Format.CSV,
    "html": Format.HTML,
    "htm": Format.HTML,
    "md": Format.MARKDOWN,
    "markdown": Format.MARKDOWN,
    "txt": Format.TEXT,
    "text": Format.TEXT,
    "log": Format.TEXT,
    "json": Format.JSON,
    "png": Format.IMAGE,
    "jpg": Format.IMAGE,
    "jpeg": Format.IMAGE,
    "webp": Format.IMAGE,
    "tif": Format.IMAGE,
    "tiff": Format.IMAGE,
    "bmp": Format.IMAGE,
    "gif": Format.IMAGE,
}
BINARY = frozenset({Format.PDF, Format.DOCX, Format.PPTX, Format.XLSX, Format.IMAGE})
OFFICE = frozenset({Format.DOCX, Format.PPTX, Format.XLSX})
BY_SNIFFED_MIME: dict[str, Format] = {
    MIME[Format.PDF]: Format.PDF,
    MIME[Format.DOCX]: Format.DOCX,
    MIME[Format.PPTX]: Format.PPTX,
    MIME[Format.XLSX]: Format.XLSX,
    **dict.fromkeys(IMAGE_MIMES, Format.IMAGE),
}


@dataclass(frozen=True)
class Detected:
    format: Format | None
    mime_type: str  # what the content is (sniffed), or what was inferred for text
    reason: str = ""


def extension(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).suffix.lower().lstrip(".")


def _looks_textual(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:  # a multi-byte character cut at the end is fine
        return error.start >= len(head) - 3
    return True


def _text_format(head: bytes, ext_format: Format | None) -> Format:
    if ext_format is not None and ext_format not in BINARY:
        return ext_format
    stripped = head.lstrip()[:200].lower()
    if stripped.startswith((b"<!doctype html", b"<html")):
        return Format.HTML
    if stripped.startswith((b"{", b"[")):
        return Format.JSON
    return Format.TEXT


def detect(name: str, head: bytes) -> Detected:
    """The format of a file called `name` whose first bytes are `head`."""
    ext_format = BY_EXTENSION.get(extension(name))
    kind = filetype.guess(head) if head else None
    sniffed = kind.mime if kind is not None else None
    if sniffed is not None:
        found = BY_SNIFFED_MIME.get(sniffed)
        if found is None and sniffed == "application/zip" and ext_format in OFFICE:
            found = ext_format  # an Office file whose parts filetype did not see in the head
        if found is None:
            return Detected(None, sniffed, f"content of type {sniffed} is not supported")
        if ext_format is not None and ext_format is not found:
            return Detected(
                None, sniffed, f"the .{extension(name)} extension does not match the content"
            )
        return Detected(found, MIME.get(found, sniffed))
    if not _looks_textual(head):
        return Detected(None, "application/octet-stream", "binary content of no known type")
    if ext_format in BINARY:
        return Detected(None, "text/plain", f"the .{extension(name)} file holds text")
    found = _text_format(head, ext_format)
    return Detected(found, MIME[found])
