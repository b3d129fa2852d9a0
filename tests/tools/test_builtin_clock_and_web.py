"""datetime.now and web.fetch, called through the registry with validated arguments; web.fetch
talks to a server on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from sophon.platform.http import outbound_client
from sophon.settings import Settings
from sophon.tools.invoke import ToolContext
from tests.conftest import FakeClock
from tests.platform.loopback_http import LoopbackOnlyConnector
from tests.tools.tool_helpers import call, tool_settings

PAGE = (
    b"<html><head><title>T</title><style>p{color:red}</style></head><body>"
    b"<h1>Hello</h1><script>alert('x')</script><p>First &amp; <b>bold</b></p>"
    b"<p>Second</p></body></html>"
)
ROUTES: dict[str, tuple[str, bytes]] = {
    "/page": ("text/html; charset=utf-8", PAGE),
    "/plain": ("text/plain", b"0123456789" * 300),
    "/image": ("image/png", b"\x89PNG" + b"\0" * 100),
}


@pytest.fixture
async def site() -> AsyncIterator[str]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ")[1].decode()
        content_type, body = ROUTES.get(path, ("text/plain", b"missing"))
        status = "200 OK" if path in ROUTES else "404 Not Found"
        writer.write(
            f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def test_datetime_now_defaults_to_utc_and_converts_zones(
    tmp_path: Path, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 7, 1, 12, 0, 5, tzinfo=UTC)
    settings = tool_settings(tmp_path)
    utc = await call(settings, "datetime.now", {})
    assert not utc.is_error
    assert utc.data is not None
    assert utc.data["iso"] == "2026-07-01T12:00:05+00:00"
    paris = await call(settings, "datetime.now", {"timezone": "Europe/Paris"})
    assert paris.data is not None
    assert paris.data["iso"] == "2026-07-01T14:00:05+02:00"
    assert "Wednesday" in paris.content


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd"])
async def test_datetime_now_with_an_unknown_zone_is_an_error_result(
    tmp_path: Path, zone: str
) -> None:
    result = await call(tool_settings(tmp_path), "datetime.now", {"timezone": zone})
    assert result.is_error
    assert "Unknown time zone" in result.content


async def test_web_fetch_reads_an_allowed_page_as_readable_text(tmp_path: Path, site: str) -> None:
    settings = tool_settings(tmp_path, outbound_allow="127.0.0.1")
    result = await call(settings, "web.fetch", {"url": f"{site}/page"})
    assert not result.is_error, result.content
    assert result.data is not None
    assert result.data["status"] == 200
    assert result.data["contentType"] == "text/html; charset=utf-8"
    assert result.data["truncated"] is False
    assert result.data["text"] == "T\nHello\nFirst & bold\nSecond"
    assert "alert" not in result.content
    assert "color:red" not in result.content


async def test_web_fetch_caps_the_size_and_flags_truncation(tmp_path: Path, site: str) -> None:
    settings = tool_settings(tmp_path, outbound_allow="127.0.0.1", web_fetch_max_bytes=1024)
    asked = await call(settings, "web.fetch", {"url": f"{site}/plain", "maxBytes": 25})
    assert asked.data is not None
    assert (asked.data["text"], asked.data["truncated"]) == ("0123456789012345678901234", True)
    assert "[truncated at 25 bytes]" in asked.content
    # A larger request is held to the Gateway's cap (the body is 3000 bytes).
    capped = await call(settings, "web.fetch", {"url": f"{site}/plain", "maxBytes": 10**9})
    assert capped.data is not None
    assert (capped.data["bytes"], capped.data["truncated"]) == (1024, True)
    roomy = tool_settings(tmp_path, outbound_allow="127.0.0.1")
    whole = await call(roomy, "web.fetch", {"url": f"{site}/plain", "maxBytes": 3000})
    assert whole.data is not None
    assert (whole.data["bytes"], whole.data["truncated"]) == (3000, False)


async def test_web_fetch_does_not_show_binary_bodies(tmp_path: Path, site: str) -> None:
    settings = tool_settings(tmp_path, outbound_allow="127.0.0.1")
    result = await call(settings, "web.fetch", {"url": f"{site}/image"})
    assert result.data is not None
    assert result.data["text"] == "[104 bytes of image/png: not text, not shown]"


async def test_web_fetch_refuses_loopback_unless_the_allow_list_names_it(
    tmp_path: Path, site: str
) -> None:
    result = await call(tool_settings(tmp_path), "web.fetch", {"url": f"{site}/page"})
    assert result.is_error
    assert "refused" in result.content
    assert "loopback" in result.content


def _spying(settings: Settings, connector: LoopbackOnlyConnector) -> ToolContext:
    """A context whose client opens sockets only through the recording connector."""

    def make(*, max_response_bytes: int, total_timeout: float) -> httpx.AsyncClient:
        return outbound_client(
            connector=connector, max_response_bytes=max_response_bytes, total_timeout=total_timeout
        )

    return ToolContext(settings=settings, http_client=make)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://10.0.0.1/admin", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[::ffff:10.0.0.1]/", "private"),
    ],
)
async def test_web_fetch_refuses_internal_addresses_before_connecting(
    url: str, kind: str, tmp_path: Path
) -> None:
    connector = LoopbackOnlyConnector()
    context = _spying(tool_settings(tmp_path), connector)
    result = await call(context.settings, "web.fetch", {"url": url}, context)
    assert result.is_error
    assert "refused" in result.content
    assert kind in result.content.lower()
    assert result.data is not None
    assert result.data["url"] == url
    assert connector.attempts == []


async def test_web_fetch_refuses_other_schemes(tmp_path: Path) -> None:
    result = await call(tool_settings(tmp_path), "web.fetch", {"url": "file:///etc/passwd"})
    assert result.is_error
    assert "scheme" in result.content


async def test_web_fetch_gives_up_at_its_time_limit(tmp_path: Path) -> None:
    release = asyncio.Event()

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        writer.close()

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/slow"
    settings = tool_settings(tmp_path, outbound_allow="127.0.0.1", web_fetch_timeout_seconds=0.3)
    async with server:
        result = await call(settings, "web.fetch", {"url": url})
        release.set()
    assert result.is_error
    assert result.content == f"Fetching {url} timed out after 0.3 s."


async def test_a_malformed_allow_list_is_reported_not_raised(tmp_path: Path) -> None:
    settings = tool_settings(tmp_path, outbound_allow="127.0.0.1 [::1")
    result = await call(settings, "web.fetch", {"url": "http://127.0.0.1/"})
    assert result.is_error
    assert "misconfigured" in result.content
    assert "unbalanced brackets" in result.content
