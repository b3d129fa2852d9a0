"""A tiny HTTP/1.1 server on 127.0.0.1 with scripted routes, a throwaway TLS identity, and spies
for the outbound client's resolver and socket layer (the spy refuses any non-loopback address)."""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

import httpcore
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOOPBACK = frozenset({"127.0.0.1", "::1"})
BIG_CHUNK = b"x" * 4096
BOMB = gzip.compress(b"\0" * (1024 * 1024))


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class TlsIdentity:
    """A self-signed certificate for one host name: the server's context and a client context
    trusting only that certificate."""

    server: ssl.SSLContext
    client: ssl.SSLContext

    @classmethod
    def create(cls, hostname: str, directory: Path) -> TlsIdentity:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        cert_file, key_file = directory / "cert.pem", directory / "key.pem"
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server.load_cert_chain(cert_file, key_file)
        client = ssl.create_default_context(cadata=cert_pem.decode())
        return cls(server, client)


@dataclass
class LoopbackServer:
    """Routes: /hello, /stream (a chunk, then waits for `proceed`), /big (256 KiB, chunked),
    /bomb (1 MiB of zeros, gzip), /hang (never answers), /drip (headers and one chunk, then
    nothing), /redirect?to=URL[&status=N], /loop (redirects to itself). Every response closes
    the connection."""

    tls: ssl.SSLContext | None = None
    requests: list[Seen] = field(default_factory=list)
    connections: int = 0
    server_names: list[str | None] = field(default_factory=list)
    proceed: asyncio.Event = field(default_factory=asyncio.Event)
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)
    _server: asyncio.Server | None = None

    async def __aenter__(self) -> LoopbackServer:
        if self.tls is not None:
            self.tls.sni_callback = self._record_sni
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._release.set()
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def _record_sni(self, _: ssl.SSLObject, name: str | None, __: ssl.SSLContext) -> None:
        self.server_names.append(name)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        try:
            seen = await self._read_request(reader)
            self.requests.append(seen)
            await self._respond(seen, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: that is what some tests provoke
        finally:
            writer.close()
            self._handlers.discard(task)

    async def _read_request(self, reader: asyncio.StreamReader) -> Seen:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *lines = head.split("\r\n")
        method, target, _ = request_line.split(" ")
        headers = {}
        for line in lines:
            if line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return Seen(method, target, headers, body)

    async def _respond(self, seen: Seen, writer: asyncio.StreamWriter) -> None:
        parts = urlsplit(seen.target)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        route = parts.path
        if route == "/hello":
            await _send(writer, 200, {}, [b"hello"])
        elif route == "/redirect":
            status = int(query.get("status", "302"))
            await _send(writer, status, {"location": query["to"]}, [])
        elif route == "/loop":
            await _send(writer, 302, {"location": "/loop"}, [])
        elif route == "/stream":
            await _start_chunked(writer, {"content-type": "text/event-stream"})
            await _chunk(writer, b"first\n")
            await self.proceed.wait()
            await _chunk(writer, b"second\n")
            await _chunk(writer, b"")
        elif route == "/big":
            await _start_chunked(writer, {})
            for _ in range(64):
                await _chunk(writer, BIG_CHUNK)
            await _chunk(writer, b"")
        elif route == "/bomb":
            await _send(writer, 200, {"content-encoding": "gzip"}, [BOMB])
        elif route == "/drip":
            await _start_chunked(writer, {})
            await _chunk(writer, b"drop")
            await self._release.wait()
        elif route == "/hang":
            await self._release.wait()
        else:
            await _send(writer, 404, {}, [b"no such route"])


def _head(status: int, headers: Mapping[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} Scripted", "connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _send(
    writer: asyncio.StreamWriter, status: int, headers: Mapping[str, str], body: Iterable[bytes]
) -> None:
    payload = b"".join(body)
    writer.write(_head(status, {**headers, "content-length": str(len(payload))}) + payload)
    await writer.drain()


async def _start_chunked(writer: asyncio.StreamWriter, headers: Mapping[str, str]) -> None:
    writer.write(_head(200, {**headers, "transfer-encoding": "chunked"}))
    await writer.drain()


async def _chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    await writer.drain()


class FakeResolver:
    """Answers from a table and records every name asked; unknown names fail like DNS does."""

    def __init__(self, table: Mapping[str, Sequence[str]] | None = None) -> None:
        self.table = dict(table or {})
        self.calls: list[str] = []

    async def __call__(self, host: str) -> Sequence[str]:
        self.calls.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


class _RecordedStream(httpcore.AsyncNetworkStream):
    """A real socket stream whose every write is recorded."""

    def __init__(self, stream: httpcore.AsyncNetworkStream, writes: list[bytes]) -> None:
        self._stream = stream
        self._writes = writes

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        self._writes.append(buffer)
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's stream interface)
    ) -> httpcore.AsyncNetworkStream:
        return await self._stream.start_tls(ssl_context, server_hostname, timeout)

    def get_extra_info(self, info: str) -> object:
        return self._stream.get_extra_info(info)


class LoopbackOnlyConnector(httpcore.AsyncNetworkBackend):
    """Opens real sockets to loopback only and records every attempt and every plain-text
    write; anything else fails the test (an AssertionError is not an error the client turns
    into a refusal)."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, int]] = []
        self.writes: list[bytes] = []
        self._real = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's backend interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.attempts.append((host, port))
        if host not in LOOPBACK:
            raise AssertionError(f"the client tried to connect to {host}:{port}")
        stream = await self._real.connect_tcp(host, port, timeout, local_address, socket_options)
        return _RecordedStream(stream, self.writes)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's backend interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AssertionError("the client tried to open a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._real.sleep(seconds)
