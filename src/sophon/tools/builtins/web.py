"""`web.fetch`: GET a URL through the SSRF-guarded client, size and time capped, as text."""

from __future__ import annotations

import asyncio
import re
from html.parser import HTMLParser

import httpx
from pydantic import Field

from sophon.platform.http import OutboundRefused, ResponseTooLarge
from sophon.tools.invoke import ToolArguments, ToolContext, ToolResult, builtin_tool
from sophon.tools.registry import RiskLevel, Tool

# Room past the cap the client itself enforces, so reading stops at our cap (a truncated text)
# while a compressed body that would expand without bound is still cut off by the client.
_CLIENT_SLACK_BYTES = 256 * 1024
_TEXT_TYPES = re.compile(r"^(text/|application/([\w.+-]*\+)?(json|xml|javascript|x-www-form))")
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "svg"})
_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "header",
        "footer",
        "pre",
        "blockquote",
        "title",
        "table",
        "ul",
        "ol",
    }
)


class WebFetchArguments(ToolArguments):
    url: str = Field(min_length=1, max_length=8192, description="An http(s) URL.")
    max_bytes: int | None = Field(
        None, ge=1, description="Read at most this many bytes (capped by the Gateway)."
    )


class _ReadableText(HTMLParser):
    """Visible text of an HTML page: scripts and styles dropped, blocks on their own lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def readable_text(html: str) -> str:
    parser = _ReadableText()
    parser.feed(html)
    parser.close()
    lines = (
        re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in "".join(parser.parts).split("\n")
    )
    return "\n".join(line for line in lines if line)


async def web_fetch(context: ToolContext, arguments: WebFetchArguments) -> ToolResult:
    settings = context.settings
    cap = min(arguments.max_bytes or settings.web_fetch_max_bytes, settings.web_fetch_max_bytes)
    timeout = context.bounded(settings.web_fetch_timeout_seconds)
    body = bytearray()
    truncated = False
    try:
        client = context.outbound(
            max_response_bytes=cap + _CLIENT_SLACK_BYTES, total_timeout=timeout
        )
    except ValueError as exc:  # a malformed SOPHON_OUTBOUND_ALLOW entry
        return ToolResult.error(f"web.fetch is misconfigured: {exc}.")
    try:
        async with client, client.stream("GET", arguments.url) as response:
            try:
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > cap:
                        truncated = True
                        break
            except ResponseTooLarge:
                truncated = True
    except OutboundRefused as exc:
        return ToolResult.error(exc.message, {"url": arguments.url, **exc.details})
    except httpx.TimeoutException:
        return ToolResult.error(f"Fetching {arguments.url} timed out after {timeout:g} s.")
    except httpx.InvalidURL as exc:
        return ToolResult.error(f"Invalid URL {arguments.url!r}: {exc}.")
    except httpx.HTTPError as exc:
        return ToolResult.error(f"Fetching {arguments.url} failed: {exc or type(exc).__name__}.")
    del body[cap:]
    content_type = response.headers.get("content-type", "")
    text = await asyncio.to_thread(_as_text, bytes(body), content_type, response.encoding)
    data = {
        "url": str(response.url),
        "status": response.status_code,
        "contentType": content_type,
        "bytes": len(body),
        "truncated": truncated,
    }
    note = f"\n\n[truncated at {cap} bytes]" if truncated else ""
    header = f"HTTP {response.status_code} {content_type or '(no content type)'} {response.url}"
    return ToolResult(content=f"{header}\n\n{text}{note}", data={**data, "text": text})


def _as_text(body: bytes, content_type: str, encoding: str | None) -> str:
    media = content_type.split(";", 1)[0].strip().lower()
    if media and not _TEXT_TYPES.match(media):
        return f"[{len(body)} bytes of {media}: not text, not shown]"
    try:
        text = body.decode(encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python doesn't know
        text = body.decode("utf-8", errors="replace")
    if media in {"text/html", "application/xhtml+xml"}:
        return readable_text(text)
    return text


def web_tools() -> list[Tool]:
    return [
        builtin_tool(
            "web.fetch",
            "GET a web page or file over http(s) and return its status, content type and text "
            "(HTML reduced to readable text). Private and internal addresses are refused.",
            RiskLevel.LOW,
            WebFetchArguments,
            web_fetch,
        )
    ]
