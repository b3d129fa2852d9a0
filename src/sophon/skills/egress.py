"""Network for a skill whose manifest lists hosts: the sandbox keeps its own empty network
namespace; a Unix socket bound into it leads to this per-call CONNECT proxy, which lets a tunnel
through only to a listed host (exact, or `*.example.com` for its subdomains), resolved and vetted
by the SSRF guard (non-public addresses refused unless `SOPHON_OUTBOUND_ALLOW` admits them).
Inside, a small relay on 127.0.0.1:3128 forwards to the socket and HTTPS_PROXY points at it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

from sophon.platform.netguard import (
    OutboundPolicy,
    OutboundRefused,
    normalize_host,
    system_resolver,
)

log = logging.getLogger("sophon.skills.egress")
SOCKET_INSIDE = "/opt/sophon/egress.sock"
PROXY_PORT = 3128
HEAD_LIMIT = 8192
CONNECT_SECONDS = 10.0
Resolver = Callable[[str], Awaitable[list[str]]]

RELAY = f"""
import socket as _s, threading as _t
def _pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for x in (a, b):
        try:
            x.shutdown(_s.SHUT_RDWR)
        except OSError:
            pass
def _serve(listener):
    while True:
        c, _ = listener.accept()
        u = _s.socket(_s.AF_UNIX)
        try:
            u.connect({SOCKET_INSIDE!r})
        except OSError:
            c.close()
            continue
        _t.Thread(target=_pipe, args=(c, u), daemon=True).start()
        _t.Thread(target=_pipe, args=(u, c), daemon=True).start()
_l = _s.socket()
_l.setsockopt(_s.SOL_SOCKET, _s.SO_REUSEADDR, 1)
_l.bind(("127.0.0.1", {PROXY_PORT}))
_l.listen(16)
_t.Thread(target=_serve, args=(_l,), daemon=True).start()
for _k in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
    os.environ[_k] = "http://127.0.0.1:{PROXY_PORT}"
"""


def host_listed(host: str, allowed: Sequence[str]) -> bool:
    for entry in allowed:
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and host != entry[2:]:
                return True
        elif host == entry:
            return True
    return False


class EgressProxy:
    def __init__(
        self, allowed: Sequence[str], policy: OutboundPolicy, resolver: Resolver = system_resolver
    ) -> None:
        self.allowed = tuple(allowed)
        self.policy = policy
        self.resolver = resolver
        self.tunnels = 0
        self.refused: list[str] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), CONNECT_SECONDS)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            writer.close()
            return
        parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        if len(parts) != 3 or parts[0] != "CONNECT":
            await self._refuse(writer, "405 Method Not Allowed", "only CONNECT (https) is allowed")
            return
        host, _, port_text = parts[1].rpartition(":")
        try:
            port = int(port_text)
            name = normalize_host(host)
        except ValueError:
            await self._refuse(writer, "400 Bad Request", "invalid target")
            return
        if not isinstance(name, str) or not host_listed(name, self.allowed):
            await self._refuse(writer, "403 Forbidden", f"{host} is not in the skill's allowlist")
            return
        try:
            answers = await self.resolver(name)
            addresses = [normalize_host(a) for a in answers]
            vetted = self.policy.vet(
                host, name, [a for a in addresses if not isinstance(a, str)], port
            )
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(str(vetted[0]), port), CONNECT_SECONDS
            )
        except (OutboundRefused, OSError, ValueError, TimeoutError) as exc:
            await self._refuse(writer, "403 Forbidden", f"{host}: {exc}")
            return
        self.tunnels += 1
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(
            _pipe(reader, upstream_writer), _pipe(upstream_reader, writer), return_exceptions=True
        )

    async def _refuse(self, writer: asyncio.StreamWriter, status: str, why: str) -> None:
        self.refused.append(why)
        log.info("skill egress refused: %s", why)
        body = why.encode()
        head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        writer.write(head.encode() + body)
        with contextlib.suppress(OSError):
            await writer.drain()
        writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            writer.close()


@contextlib.asynccontextmanager
async def serving(proxy: EgressProxy) -> AsyncIterator[str]:
    """A Unix socket path the sandbox can reach (any uid may connect), for one call."""
    folder = Path(tempfile.mkdtemp(prefix="sophon-egress-"))
    path = folder / "egress.sock"
    server = await asyncio.start_unix_server(proxy.handle, path=str(path), limit=HEAD_LIMIT)
    try:
        # the sandbox runs as another uid: it may pass the folder and connect, nothing else
        os.chmod(folder, 0o711)  # noqa: S103
        os.chmod(path, 0o666)  # noqa: S103
        yield str(path)
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1.0)
        shutil.rmtree(folder, ignore_errors=True)
