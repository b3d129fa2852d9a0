"""Chunks of a document's text that respect its structure: never across a page, a heading
starts a new chunk (and names the chunks under it), paragraphs are kept whole when they fit and
split at sentence or word boundaries when they don't, and each chunk repeats the tail of the one
before it (overlap). A chunk's content is exactly `text[start:end]` of the document's text."""

from __future__ import annotations

import re
from dataclasses import dataclass

PAGE_SEPARATOR = "\n\n"
_PARAGRAPH = re.compile(r"\S(?:.*?\S)?(?=\n\s*\n|\s*\Z)", re.S)
_SENTENCE_END = re.compile(r"[.!?;:]\s+")


@dataclass(frozen=True)
class Chunk:
    seq: int
    page: int
    start: int
    end: int
    heading: str | None
    content: str


def page_starts(pages: list[str]) -> list[int]:
    starts, at = [], 0
    for text in pages:
        starts.append(at)
        at += len(text) + len(PAGE_SEPARATOR)
    return starts


def full_text(pages: list[str]) -> str:
    return PAGE_SEPARATOR.join(pages)


def _pieces(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """[start, end) cut into pieces of at most `size`, at a sentence end or whitespace."""
    out = []
    while end - start > size:
        window = text[start : start + size]
        cut = max((m.end() for m in _SENTENCE_END.finditer(window)), default=0)
        if cut < size // 2:
            cut = window.rfind(" ") + 1 if window.rfind(" ") > size // 2 else size
        out.append((start, start + cut))
        start += cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        out.append((start, end))
    return out


def _overlap_start(text: str, chunk_start: int, chunk_end: int, overlap: int) -> int:
    if overlap <= 0:
        return chunk_end
    at = max(chunk_end - overlap, chunk_start + 1)
    space = text.find(" ", at, chunk_end)
    return space + 1 if space >= 0 else chunk_end


def _close(
    chunks: list[Chunk],
    text: str,
    number: int,
    offset: int,
    span: tuple[int, int],
    heading: str | None,
) -> None:
    start, end = span
    content = text[start:end]
    if content.strip():
        chunks.append(Chunk(len(chunks), number, offset + start, offset + end, heading, content))


def chunk_pages(pages: list[str], size: int, overlap: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    heading: str | None = None
    overlap = min(overlap, size // 2)
    for number, (text, offset) in enumerate(zip(pages, page_starts(pages), strict=True), 1):
        segments: list[tuple[int, int, bool]] = []
        for match in _PARAGRAPH.finditer(text):
            is_heading = match.group().startswith("#") and "\n" not in match.group()
            for a, b in _pieces(text, match.start(), match.end(), size):
                segments.append((a, b, is_heading))
        open_start: int | None = None
        open_end = 0
        open_heading = heading
        for a, b, is_heading in segments:
            if open_start is not None and (is_heading or b - open_start > size):
                _close(chunks, text, number, offset, (open_start, open_end), open_heading)
                carry = _overlap_start(text, open_start, open_end, overlap)
                open_start = None if is_heading or carry >= a else carry
            if is_heading:
                heading = text[a:b].lstrip("#").strip()[:300] or heading
            if open_start is None:
                open_start, open_heading = a, heading
            open_end = b
        if open_start is not None:
            _close(chunks, text, number, offset, (open_start, open_end), open_heading)
    return chunks
