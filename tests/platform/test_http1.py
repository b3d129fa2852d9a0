"""The outbound client's own HTTP/1.1 on its default asyncio sockets, through the public client
against loopback servers: keep-alive reuse and its limits, framing of bodies both ways, TLS,
and timeouts."""

from __future__ import annotations

import asyncio
import gc
import types
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sophon.platform.http import TotalTimeout, outbound_client
from tests.platform.keepalive_http import (
    KeepAliveServer,
    answer_then_close,
    chunked,
    dropped_when_kept,
    early_hints,
    head_only,
    until_close,
)
from tests.platform.loopback_http import TlsIdentity


@pytest.fixture
async def server() -> AsyncIterator[KeepAliveServer]:
    routes = {
        "/chunked": chunked,
        "/until-close": until_close,
        "/close": answer_then_close,
        "/drop": dropped_when_kept,
        "/hints": early_hints,
        "/head": head_only,
    }
    async with KeepAliveServer(routes) as running:
        yield running


def client_for(server: KeepAliveServer, **options: Any) -> httpx.AsyncClient:
    return outbound_client(allow=server.allow, **options)


def connections(server: KeepAliveServer) -> list[int]:
    return [seen.connection for seen in server.requests]


async def test_sequential_requests_share_one_connection(server: KeepAliveServer) -> None:
    async with client_for(server) as client:
        answers = [(await client.get(server.url(f"/sized/{n}"))).text for n in range(3)]
        posted = await client.post(server.url("/sized"), content=b"12345")
    assert answers == [f"GET /sized/{n} 0" for n in range(3)]
    assert posted.text == "POST /sized 5"
    assert connections(server) == [1, 1, 1, 1]


async def test_a_streamed_chunked_response_is_read_and_its_connection_reused(
    server: KeepAliveServer,
) -> None:
    async with client_for(server) as client:
        for _ in range(2):
            async with client.stream("POST", server.url("/chunked"), json={}) as response:
                lines = [line async for line in response.aiter_lines() if line]
            assert lines == ["data: one", "data: two", "data: [DONE]"]
            assert response.headers["content-type"] == "text/event-stream"
    assert connections(server) == [1, 1]


async def test_a_connection_the_server_closed_is_never_reused(server: KeepAliveServer) -> None:
    async with client_for(server) as client:
        assert (await client.get(server.url("/close"))).text == "ok"
        assert (await client.post(server.url("/sized"), content=b"x")).text == "POST /sized 1"
        assert (await client.get(server.url("/until-close"))).text == "the body runs to the close"
        assert (await client.get(server.url("/sized"))).status_code == 200
    assert connections(server) == [1, 2, 2, 3]


async def test_a_kept_connection_dropped_unanswered_is_retried_once_when_safe(
    server: KeepAliveServer,
) -> None:
    async with client_for(server) as client:
        await client.get(server.url("/sized"))
        response = await client.get(server.url("/drop"))
        assert response.text == "GET /drop 0"
    assert [(seen.path, seen.connection) for seen in server.requests] == [
        ("/sized", 1),
        ("/drop", 1),
        ("/drop", 2),
    ]


async def test_a_post_dropped_unanswered_is_not_sent_again(server: KeepAliveServer) -> None:
    async with client_for(server) as client:
        await client.get(server.url("/sized"))
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            await client.post(server.url("/drop"), content=b"once")
    assert [seen.path for seen in server.requests] == ["/sized", "/drop"]


async def test_a_response_closed_before_its_end_closes_its_connection(
    server: KeepAliveServer,
) -> None:
    async with client_for(server) as client:
        async with client.stream("GET", server.url("/partial")) as response:
            assert await anext(response.aiter_raw()) == b"first"
        server.hold.set()
        assert (await client.get(server.url("/sized"))).status_code == 200
    assert connections(server) == [1, 2]


async def test_idle_connections_expire(server: KeepAliveServer) -> None:
    async with client_for(server, limits=httpx.Limits(keepalive_expiry=0)) as client:
        for _ in range(2):
            await client.get(server.url("/sized"))
    assert connections(server) == [1, 2]


async def test_only_max_keepalive_connections_stay_open(server: KeepAliveServer) -> None:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=1)
    async with client_for(server, limits=limits) as client:
        await asyncio.gather(*(client.get(server.url("/sized")) for _ in range(3)))
        for _ in range(3):
            await client.get(server.url("/sized"))
    assert sorted(set(connections(server)[:3])) == [1, 2, 3]
    assert len(set(connections(server)[3:])) == 1  # the one kept connection served them all


async def test_a_request_waits_for_a_free_connection_up_to_the_pool_timeout(
    server: KeepAliveServer,
) -> None:
    limits = httpx.Limits(max_connections=1)
    timeout = httpx.Timeout(5.0, pool=0.1)
    async with client_for(server, limits=limits, timeout=timeout) as client:
        async with client.stream("GET", server.url("/chunked")) as held:
            with pytest.raises(httpx.PoolTimeout):
                await client.get(server.url("/sized"))
            waiting = asyncio.create_task(client.get(server.url("/sized"), timeout=5.0))
            await held.aread()
        assert (await waiting).status_code == 200
    assert connections(server) == [1, 1]


async def test_a_streamed_request_body_goes_chunked(server: KeepAliveServer) -> None:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b"first ", b"", b"second ", b"x" * 100_000):
            yield part

    async with client_for(server) as client:
        response = await client.post(server.url("/sized"), content=parts())
    assert response.text == f"POST /sized {len('first second ') + 100_000}"
    assert server.requests[0].headers["transfer-encoding"] == "chunked"
    assert server.requests[0].body == b"first second " + b"x" * 100_000


async def test_informational_responses_are_skipped(server: KeepAliveServer) -> None:
    async with client_for(server) as client:
        response = await client.get(server.url("/hints"))
        assert (response.status_code, response.text) == (200, "final")
        assert "link" not in response.headers
        assert (await client.get(server.url("/sized"))).status_code == 200
    assert connections(server) == [1, 1]


async def test_head_reads_no_body_and_keeps_the_connection(server: KeepAliveServer) -> None:
    async with client_for(server) as client:
        response = await client.head(server.url("/head"))
        assert (response.status_code, response.content) == (200, b"")
        assert response.headers["content-length"] == "1000"
        assert (await client.get(server.url("/sized"))).text == "GET /sized 0"
    assert connections(server) == [1, 1]


async def test_the_reason_phrase_and_version_reach_the_response(server: KeepAliveServer) -> None:
    async with client_for(server) as client:
        response = await client.get(server.url("/sized"))
    assert (response.reason_phrase, response.http_version) == ("OK", "HTTP/1.1")


@pytest.mark.parametrize(
    "headers", [{"x-injected": "a\r\nx-smuggled: b"}, {"bad name": "v"}, {"x": "nul\0"}]
)
async def test_header_injection_is_refused_before_sending(
    server: KeepAliveServer, headers: dict[str, str]
) -> None:
    async with client_for(server) as client:
        with pytest.raises(httpx.LocalProtocolError):
            await client.get(server.url("/sized"), headers=headers)
        assert (await client.get(server.url("/sized"))).status_code == 200
    assert [seen.path for seen in server.requests] == ["/sized"]


async def test_read_timeout_and_total_timeout(server: KeepAliveServer) -> None:
    async with client_for(server, timeout=httpx.Timeout(5.0, read=0.1)) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url("/hold"))
    async with client_for(server, total_timeout=0.1) as client:
        with pytest.raises(TotalTimeout):
            await client.get(server.url("/hold"))
    assert len(server.requests) == 2


async def test_tls_keeps_its_connection_and_verifies_the_name(tmp_path: Path) -> None:
    identity = TlsIdentity.create("localhost", tmp_path)
    async with KeepAliveServer(tls=identity.server) as server:
        options: dict[str, Any] = {"allow": ["localhost"], "verify": identity.client}
        async with outbound_client(**options) as client:
            for _ in range(2):
                response = await client.get(server.url("/sized", host="localhost"))
                assert response.text == "GET /sized 0"
        async with outbound_client(allow_loopback=True, verify=identity.client) as client:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get(server.url("/sized"))
    assert connections(server) == [1, 1]


async def test_an_exchange_leaves_nothing_for_the_garbage_collector(
    server: KeepAliveServer,
) -> None:
    """A model call per turn: garbage in reference cycles would wait for a collection, a pause
    of the event loop, instead of being freed at once. Only the client's garbage counts: the
    loopback server and whatever else this process runs meanwhile may leave their own."""
    async with client_for(server) as client:
        await client.get(server.url("/sized"))
        gc.collect()
        gc.disable()
        try:
            for path in ("/sized", "/chunked"):
                async with client.stream("GET", server.url(path)) as response:
                    await response.aread()
            assert [repr(o)[:80] for o in _cyclic_garbage() if _of_the_client(o)] == []
        finally:
            gc.enable()


def _cyclic_garbage() -> list[Any]:
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


CLIENT_MODULES = ("sophon.platform.http", "sophon.platform.netguard", "httpx")


def _of_the_client(thing: Any) -> bool:
    """An object of the client's modules, or a frame, coroutine or traceback of their code."""
    if isinstance(thing, types.TracebackType):
        thing = thing.tb_frame
    code = getattr(thing, "f_code", None) or getattr(thing, "cr_code", None)
    if code is not None:
        return any(f"/{m.replace('.', '/')}" in code.co_filename for m in CLIENT_MODULES)
    return type(thing).__module__.startswith(CLIENT_MODULES)
