"""Sockets for the outbound HTTP client straight on asyncio: an httpcore network backend (the
interface the guarded backend and the tests' spies speak) whose streams are asyncio protocols,
without anyio's task groups and cancel scopes around every read and write."""

from __future__ import annotations

import asyncio
import select
import ssl
from collections.abc import Iterable
from typing import Any, cast

import httpcore

_PAUSE_AT = 256 * 1024  # bytes received and not yet read before the socket stops being read


class SocketStream(httpcore.AsyncNetworkStream, asyncio.Protocol):
    """One TCP connection (TLS once `start_tls` ran): received data is buffered until read,
    writes wait only while the transport's buffer is full. Failures are httpcore's exceptions,
    as every network stream's."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._received: list[bytes] = []
        self._received_bytes = 0
        self._reading_paused = False
        self._eof = False
        self._lost: Exception | None = None
        self._data_waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._writing_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._received.append(data)
        self._received_bytes += len(data)
        if self._received_bytes > _PAUSE_AT and not self._reading_paused:
            self._reading_paused = True
            self._transport_or_fail().pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake_reader()
        return False  # close the transport: a half-closed HTTP/1.1 connection is done

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._lost = exc
        self._wake_reader()
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)

    def _wake_reader(self) -> None:
        if self._data_waiter is not None and not self._data_waiter.done():
            self._data_waiter.set_result(None)

    def _transport_or_fail(self) -> asyncio.Transport:
        if self._transport is None:
            raise httpcore.NetworkError("the connection is not open")
        return self._transport

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        if not self._received and not self._eof:
            self._data_waiter = self._loop.create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self._data_waiter
            except TimeoutError:
                raise httpcore.ReadTimeout("timed out reading from the server") from None
            finally:
                self._data_waiter = None
        if not self._received:
            if self._lost is not None:
                raise httpcore.ReadError(str(self._lost) or type(self._lost).__name__)
            return b""
        data = self._received[0] if len(self._received) == 1 else b"".join(self._received)
        self._received.clear()
        if len(data) > max_bytes:
            self._received.append(data[max_bytes:])
            data = data[:max_bytes]
        self._received_bytes = len(self._received[0]) if self._received else 0
        if self._reading_paused and self._received_bytes <= _PAUSE_AT:
            self._reading_paused = False
            self._transport_or_fail().resume_reading()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        transport = self._transport_or_fail()
        if self._lost is not None or transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        transport.write(buffer)
        if not self._writing_paused:
            return
        self._drain_waiter = self._loop.create_future()
        try:
            async with asyncio.timeout(timeout):
                await self._drain_waiter
        except TimeoutError:
            raise httpcore.WriteTimeout("timed out writing to the server") from None
        finally:
            self._drain_waiter = None
        if self._lost is not None:
            raise httpcore.WriteError(str(self._lost) or type(self._lost).__name__)

    async def aclose(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's stream interface)
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                transport = await self._loop.start_tls(
                    self._transport_or_fail(), self, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError:
            await self.aclose()
            raise httpcore.ConnectTimeout("the TLS handshake timed out") from None
        except OSError as exc:  # ssl.SSLError included: a refused certificate says why
            await self.aclose()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        self._transport = cast(asyncio.Transport, transport)
        return self

    def _socket_readable(self) -> bool:
        """Whether the kernel holds data or the close for this socket that the loop has not
        delivered yet (a close that arrived in this very loop iteration)."""
        sock = None if self._transport is None else self._transport.get_extra_info("socket")
        if sock is None:
            return True
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # what a pool asks of an idle connection: closed or talking
            return self._eof or bool(self._received) or self._socket_readable()
        names = {"client_addr": "sockname", "server_addr": "peername", "ssl_object": "ssl_object"}
        if self._transport is None or info not in {*names, "socket"}:
            return None
        return self._transport.get_extra_info(names.get(info, info))


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens `SocketStream`s. The host is an address already vetted, so no lookup happens."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's backend interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = None if local_address is None else (local_address, 0)
        try:
            async with asyncio.timeout(timeout):
                _, stream = await loop.create_connection(SocketStream, host, port, local_addr=local)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        sock = stream.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return stream

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
