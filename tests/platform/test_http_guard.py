"""The SSRF-guarded outbound client, driven through its public API against loopback servers.
No test may reach a non-loopback address: the connector spy fails any such attempt."""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import ssl
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from sophon.platform.http import (
    OutboundRefused,
    ResponseTooLarge,
    TotalTimeout,
    outbound_client,
    split_allow_setting,
    system_resolver,
)
from sophon.platform.netguard import OutboundPolicy, normalize_host
from tests.platform.loopback_http import (
    FakeResolver,
    LoopbackOnlyConnector,
    LoopbackServer,
    TlsIdentity,
)

# Verifies certificates and trusts none: the plain-HTTP tests never need a CA bundle loaded.
NO_CA = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    async with LoopbackServer() as running:
        yield running


@pytest.fixture
async def bystander() -> AsyncIterator[LoopbackServer]:
    """A loopback server no client allows: it must never see a connection."""
    async with LoopbackServer() as running:
        yield running


@pytest.fixture
def connector() -> LoopbackOnlyConnector:
    return LoopbackOnlyConnector()


@pytest.fixture
def resolver() -> FakeResolver:
    return FakeResolver()


ClientFactory = Callable[..., httpx.AsyncClient]


@pytest.fixture
def make_client(connector: LoopbackOnlyConnector, resolver: FakeResolver) -> ClientFactory:
    def build(**options: Any) -> httpx.AsyncClient:
        options.setdefault("resolver", resolver)
        options.setdefault("verify", NO_CA)
        return outbound_client(connector=connector, **options)

    return build


def allowed(server: LoopbackServer) -> list[str]:
    return [f"127.0.0.1:{server.port}"]


async def drain(response: httpx.Response, into: list[bytes]) -> None:
    async for chunk in response.aiter_raw():
        into.append(chunk)


def redirect(server: LoopbackServer, to: str) -> str:
    return server.url(f"/redirect?to={quote(to, safe='')}")


# --- the allowed path works: plain, pinned by name, TLS, streaming ---


async def test_get_through_the_allow_list(
    make_client: ClientFactory, server: LoopbackServer, connector: LoopbackOnlyConnector
) -> None:
    async with make_client(allow=allowed(server)) as client:
        response = await client.get(server.url("/hello"))
    assert (response.status_code, response.text) == (200, "hello")
    assert server.requests[0].headers["host"] == f"127.0.0.1:{server.port}"
    assert connector.attempts == [("127.0.0.1", server.port)]


async def test_a_name_connects_to_its_vetted_address_and_keeps_its_host_header(
    make_client: ClientFactory, server: LoopbackServer, connector: LoopbackOnlyConnector
) -> None:
    resolver = FakeResolver({"models.sophon.test": ["::ffff:127.0.0.1"]})
    async with make_client(allow=allowed(server), resolver=resolver) as client:
        response = await client.get(server.url("/hello", host="Models.Sophon.Test."))
    assert response.text == "hello"
    assert resolver.calls == ["models.sophon.test"]
    assert connector.attempts == [("127.0.0.1", server.port)]
    assert server.requests[0].headers["host"] == f"models.sophon.test.:{server.port}"


async def test_tls_uses_the_name_for_sni_and_certificate_checks(
    make_client: ClientFactory, connector: LoopbackOnlyConnector, tmp_path: Path
) -> None:
    identity = TlsIdentity.create("secure.sophon.test", tmp_path)
    resolver = FakeResolver({"secure.sophon.test": ["127.0.0.1"]})
    async with LoopbackServer(tls=identity.server) as tls_server:
        options = {"allow": allowed(tls_server), "resolver": resolver, "verify": identity.client}
        async with make_client(**options) as client:
            response = await client.get(tls_server.url("/hello", host="secure.sophon.test"))
            assert response.text == "hello"
            assert tls_server.server_names == ["secure.sophon.test"]
            assert connector.attempts == [("127.0.0.1", tls_server.port)]
            # The certificate names the host, not the address: reaching it by address fails.
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get(tls_server.url("/hello"))


async def test_streaming_delivers_chunks_as_they_arrive(
    make_client: ClientFactory, server: LoopbackServer
) -> None:
    async with (
        asyncio.timeout(5),
        make_client(allow=allowed(server)) as client,
        client.stream("POST", server.url("/stream"), json={"stream": True}) as response,
    ):
        lines = response.aiter_lines()
        # The server sends "second" only after this side has seen "first".
        assert await anext(lines) == "first"
        server.proceed.set()
        assert [line async for line in lines] == ["second"]
    assert server.requests[0].body == b'{"stream":true}'


async def test_a_request_leaves_in_one_write(
    make_client: ClientFactory, server: LoopbackServer, connector: LoopbackOnlyConnector
) -> None:
    async with make_client(allow=allowed(server)) as client:
        response = await client.post(server.url("/hello"), content=b"the body")
        assert response.text == "hello"
        large = b"x" * (256 * 1024)
        await client.post(server.url("/hello"), content=large)
    head, body = connector.writes[0].split(b"\r\n\r\n")
    assert head.startswith(b"POST /hello HTTP/1.1\r\n")
    assert body == b"the body"
    assert b"".join(connector.writes[1:]).endswith(large)  # a large body is not held back
    assert [seen.body for seen in server.requests] == [b"the body", large]


# --- caps and timeouts ---


async def test_the_response_cap_stops_reading(
    make_client: ClientFactory, server: LoopbackServer
) -> None:
    async with make_client(allow=allowed(server), max_response_bytes=10_000) as client:
        with pytest.raises(ResponseTooLarge):
            await client.get(server.url("/big"))
        received: list[bytes] = []
        async with client.stream("GET", server.url("/big")) as response:
            with pytest.raises(ResponseTooLarge):
                await drain(response, received)
        assert 0 < sum(map(len, received)) <= 10_000


async def test_the_cap_applies_to_the_decoded_body(
    make_client: ClientFactory, server: LoopbackServer
) -> None:
    async with make_client(allow=allowed(server), max_response_bytes=64 * 1024) as client:
        with pytest.raises(ResponseTooLarge, match="decoded"):
            await client.get(server.url("/bomb"))
    async with make_client(allow=allowed(server), max_response_bytes=2 * 1024 * 1024) as client:
        assert len((await client.get(server.url("/bomb"))).content) == 1024 * 1024


async def test_read_timeout_on_a_server_that_never_answers(
    make_client: ClientFactory, server: LoopbackServer
) -> None:
    timeout = httpx.Timeout(5.0, read=0.2)
    async with make_client(allow=allowed(server), timeout=timeout) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url("/hang"))


@pytest.mark.parametrize("path", ["/hang", "/drip", "/redirect?to=/hang"])
async def test_total_timeout_bounds_the_whole_exchange(
    make_client: ClientFactory, server: LoopbackServer, path: str
) -> None:
    async with make_client(allow=allowed(server), total_timeout=0.2) as client:
        with pytest.raises(TotalTimeout):
            await client.get(server.url(path))


# --- refusals of literal addresses, in every spelling ---

REFUSED_SPELLINGS = [
    ("127.0.0.1", "loopback"),
    ("2130706433", "loopback"),
    ("0x7f.0.0.1", "loopback"),
    ("0X7F.1", "loopback"),
    ("0x7f000001", "loopback"),
    ("017700000001", "loopback"),
    ("127.1", "loopback"),
    ("127.0.1", "loopback"),
    ("127.0.0.1.", "loopback"),
    ("[::1]", "loopback"),
    ("[0:0:0:0:0:0:0:1]", "loopback"),
    ("[::ffff:127.0.0.1]", "loopback"),
    ("[::FFFF:7F00:1]", "loopback"),
    ("[::127.0.0.1]", "IPv4-compatible"),
    ("[2002:7f00:1::]", "loopback (embedded in IPv6)"),
    ("[64:ff9b::127.0.0.1]", "loopback (embedded in IPv6)"),
    ("10.0.0.5", "private"),
    ("0xa.5", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "shared (CGNAT)"),
    ("169.254.1.1", "link-local"),
    ("[fe80::1]", "link-local"),
    ("224.0.0.1", "multicast"),
    ("[ff02::1]", "multicast"),
    ("0.0.0.0", "unspecified"),  # noqa: S104 (a destination, not a bind address)
    ("0", "unspecified"),
    ("[::]", "unspecified"),
    ("255.255.255.255", "broadcast"),
    ("240.0.0.1", "reserved"),
    ("[fc00::1]", "unique-local"),
    ("[fd12:3456::1]", "unique-local"),
    ("169.254.169.254", "cloud metadata"),
    ("2852039166", "cloud metadata"),
    ("[::ffff:169.254.169.254]", "cloud metadata"),
    ("[fd00:ec2::254]", "cloud metadata"),
    ("100.100.100.200", "cloud metadata"),
    ("[2002:a9fe:a9fe::]", "cloud metadata (embedded in IPv6)"),
    ("[64:ff9b::a9fe:a9fe]", "cloud metadata (embedded in IPv6)"),
    ("1.2.3.4.5", "invalid host"),
    ("0x1g.1", "invalid host"),
]


@pytest.mark.parametrize(("spelling", "reason"), REFUSED_SPELLINGS)
async def test_refused_before_any_connection(
    make_client: ClientFactory,
    server: LoopbackServer,
    resolver: FakeResolver,
    connector: LoopbackOnlyConnector,
    spelling: str,
    reason: str,
) -> None:
    async with make_client() as client:
        with pytest.raises(OutboundRefused) as refused:
            await client.get(f"http://{spelling}:{server.port}/hello")
    assert refused.value.details["reason"] == reason
    assert refused.value.code == "invalid_request"
    assert (resolver.calls, connector.attempts, server.connections) == ([], [], 0)


@pytest.mark.parametrize(
    "spelling",
    [
        "0177.0.0.1",
        "127.000.000.001",
        "\uff11\uff12\uff17.\uff10.\uff10.\uff11",
        "127\u30020\u30020\u30021",
    ],
)
async def test_spellings_httpx_rejects_are_still_normalised(
    make_client: ClientFactory, connector: LoopbackOnlyConnector, spelling: str
) -> None:
    assert normalize_host(spelling) == ipaddress.ip_address("127.0.0.1")
    async with make_client() as client:
        with pytest.raises((httpx.InvalidURL, OutboundRefused)):
            await client.get(f"http://{spelling}/")
    assert connector.attempts == []


def test_names_are_normalised() -> None:
    assert normalize_host("EXAMPLE.com.") == "example.com"
    assert normalize_host("bücher.example") == "xn--bcher-kva.example"
    for bad in ["[127.0.0.1]", "fe80::1%eth0", "exa mple.com", "09.0.0.1", ""]:
        with pytest.raises(ValueError):  # noqa: PT011 (each is its own malformed input)
            normalize_host(bad)


# --- refusals after DNS ---


@pytest.mark.parametrize(
    "answers",
    [
        ["127.0.0.1"],
        ["10.0.0.5"],
        ["::1"],
        ["169.254.169.254"],
        ["::ffff:10.0.0.5"],
        ["93.184.216.34", "10.0.0.5"],
        ["10.0.0.5", "93.184.216.34"],
        ["2606:4700::1111", "fd00::1"],
    ],
)
async def test_a_name_resolving_to_a_refused_address_is_refused(
    make_client: ClientFactory, connector: LoopbackOnlyConnector, answers: Sequence[str]
) -> None:
    resolver = FakeResolver({"internal.sophon.test": answers})
    async with make_client(resolver=resolver) as client:
        with pytest.raises(OutboundRefused) as refused:
            await client.get("https://internal.sophon.test/v1/models")
    message = refused.value.message
    assert "internal.sophon.test" in message
    assert not any(answer in message for answer in answers)  # the resolved address stays internal
    assert (resolver.calls, connector.attempts) == (["internal.sophon.test"], [])


async def test_an_unresolvable_name_is_a_connect_error(make_client: ClientFactory) -> None:
    async with make_client() as client:
        with pytest.raises(httpx.ConnectError, match="cannot resolve"):
            await client.get("http://nowhere.sophon.test/")


# --- redirects: every hop is checked again ---


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata"),
        ("ftp://127.0.0.1/pub", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://127.0.0.1:70/_", "scheme"),
    ],
)
async def test_redirect_to_a_refused_destination(
    make_client: ClientFactory,
    server: LoopbackServer,
    connector: LoopbackOnlyConnector,
    target: str,
    reason: str,
) -> None:
    async with make_client(allow=allowed(server)) as client:
        with pytest.raises(OutboundRefused) as refused:
            await client.get(redirect(server, target))
    assert refused.value.details["reason"] == reason
    assert connector.attempts == [("127.0.0.1", server.port)]


async def test_redirect_to_a_port_not_allowed(
    make_client: ClientFactory, server: LoopbackServer, bystander: LoopbackServer
) -> None:
    async with make_client(allow=allowed(server)) as client:
        for status in (301, 307):
            target = (
                redirect(server, f"http://0x7f000001:{bystander.port}/hello") + f"&status={status}"
            )
            with pytest.raises(OutboundRefused, match="loopback"):
                await client.get(target)
    assert bystander.connections == 0


async def test_redirect_with_credentials_is_refused(
    make_client: ClientFactory, server: LoopbackServer
) -> None:
    async with make_client(allow=allowed(server)) as client:
        with pytest.raises(OutboundRefused) as refused:
            await client.get(redirect(server, f"http://user:pw@127.0.0.1:{server.port}/hello"))
        assert refused.value.details["reason"] == "credentials"
        with pytest.raises(OutboundRefused):
            await client.get(f"http://user:pw@127.0.0.1:{server.port}/hello")
    assert len(server.requests) == 1


async def test_redirect_to_an_allowed_path_is_followed(
    make_client: ClientFactory, server: LoopbackServer
) -> None:
    async with make_client(allow=allowed(server)) as client:
        response = await client.get(redirect(server, "/hello"))
    assert (response.text, len(response.history)) == ("hello", 1)


async def test_redirects_are_bounded(make_client: ClientFactory, server: LoopbackServer) -> None:
    async with make_client(allow=allowed(server), max_redirects=5) as client:
        with pytest.raises(httpx.TooManyRedirects):
            await client.get(server.url("/loop"))
    assert len(server.requests) == 6


# --- loopback and the allow-list ---


async def test_loopback_needs_allow_loopback(
    make_client: ClientFactory, server: LoopbackServer
) -> None:
    async with make_client() as client:
        with pytest.raises(OutboundRefused, match="loopback"):
            await client.get(server.url("/hello"))
    assert server.connections == 0
    async with make_client(allow_loopback=True) as client:
        assert (await client.get(server.url("/hello"))).text == "hello"


async def test_allow_loopback_with_the_system_resolver(
    make_client: ClientFactory, server: LoopbackServer
) -> None:
    async with make_client(allow_loopback=True, resolver=system_resolver) as client:
        assert (await client.get(server.url("/hello", host="localhost"))).text == "hello"


async def test_allow_entries_match_name_address_and_port(
    make_client: ClientFactory, server: LoopbackServer, bystander: LoopbackServer
) -> None:
    resolver = FakeResolver({"localhost": ["127.0.0.1"]})
    async with make_client(allow=["localhost"], resolver=resolver) as client:
        assert (await client.get(server.url("/hello", host="localhost"))).text == "hello"
        with pytest.raises(OutboundRefused):  # the name is allowed, not the address
            await client.get(server.url("/hello"))
        assert (await client.get(server.url("/hello", host="localhost"))).text == "hello"
    async with make_client(allow=["127.0.0.0/8"]) as client:
        assert (await client.get(server.url("/hello"))).text == "hello"
    async with make_client(allow=allowed(server)) as client:
        with pytest.raises(OutboundRefused):
            await client.get(bystander.url("/hello"))
    assert bystander.connections == 0


@pytest.mark.parametrize(
    ("options", "url"),
    [
        ({"allow": ["169.254.0.0/16"]}, "http://169.254.169.254/"),
        ({"allow": ["metadata.sophon.test"]}, "http://metadata.sophon.test/"),
        ({"allow_loopback": True}, "http://0.0.0.0/"),
        ({"allow_loopback": True}, "http://[2002:7f00:1::]/"),
    ],
)
async def test_broad_allowances_never_unlock_metadata_or_unspecified(
    make_client: ClientFactory, connector: LoopbackOnlyConnector, options: dict[str, Any], url: str
) -> None:
    resolver = FakeResolver({"metadata.sophon.test": ["169.254.169.254"]})
    async with make_client(resolver=resolver, **options) as client:
        with pytest.raises(OutboundRefused):
            await client.get(url)
    assert connector.attempts == []


def test_only_an_exact_entry_unlocks_a_metadata_address() -> None:
    metadata = ipaddress.ip_address("169.254.169.254")
    assert OutboundPolicy(["169.254.169.254:80"]).vet("x", None, [metadata], 80) == [metadata]
    with pytest.raises(OutboundRefused):
        OutboundPolicy(["169.254.169.254:80"]).vet("x", None, [metadata], 8080)


@pytest.mark.parametrize(
    "entry", ["10.0.0.0/33", "10.0.0.1/8", "host:port", "host:0", "[::1", "[::1]x", "exa mple"]
)
def test_malformed_allow_entries_fail_loudly(entry: str) -> None:
    with pytest.raises(ValueError, match="invalid allow entry"):
        outbound_client(allow=[entry], verify=NO_CA)


def test_the_allow_setting_splits_on_commas_and_spaces() -> None:
    value = "127.0.0.1:11434, 10.0.0.0/8  localhost,[fd00::1]:8080"
    entries = split_allow_setting(value)
    assert entries == ("127.0.0.1:11434", "10.0.0.0/8", "localhost", "[fd00::1]:8080")
    assert len(OutboundPolicy(entries).entries) == 4
    assert split_allow_setting(None) == ()


async def test_only_http_and_https(
    make_client: ClientFactory, connector: LoopbackOnlyConnector
) -> None:
    async with make_client(allow_loopback=True) as client:
        with pytest.raises(OutboundRefused, match="scheme"):
            await client.get("ftp://127.0.0.1/")
    assert connector.attempts == []


async def test_a_finished_response_is_freed_without_the_garbage_collector(
    make_client: ClientFactory, server: LoopbackServer
) -> None:
    """Each model call streams a response: left in a reference cycle, its objects would wait
    for a collection (a pause of the event loop) instead of being freed at once."""
    async with make_client(allow=allowed(server)) as client:
        await client.get(server.url("/hello"))  # the connection is open and pooled
        gc.collect()
        gc.disable()
        try:
            async with client.stream("GET", server.url("/hello")) as response:
                await response.aread()
            freed = weakref.ref(response)
            del response
            assert freed() is None
        finally:
            gc.enable()
