"""One hub connection, whatever its transport: the handshake, incoming frames, invocations
(one at a time, as ASP.NET does; streams run beside them), the outbox the transport drains,
keep-alive pings and the client timeout."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sophon.platform.events import Viewer
from sophon.platform.principal import Principal
from sophon.realtime import protocol
from sophon.realtime.protocol import MessageType, ProtocolError

if TYPE_CHECKING:
    from sophon.realtime.hub import Hub

log = logging.getLogger("sophon.realtime")

MAX_OUTBOX = 2000  # frames waiting for a slow client before it is cut off
MAX_BUFFER_CHARS = 1024 * 1024  # an incomplete frame may not grow beyond this
CLIENT_TIMEOUT_ERROR = "Server timeout elapsed without receiving a message from the client."


class Transport(StrEnum):
    WEBSOCKETS = "WebSockets"
    SSE = "ServerSentEvents"
    LONG_POLLING = "LongPolling"


class Connection:
    """Created by negotiate (or by a WebSocket that skipped it); the transport attaches later."""

    def __init__(
        self,
        *,
        hub: Hub,
        connection_id: str,
        token: str,
        principal: Principal,
        credential: str | None,
        tenant_slug: str | None,
        keepalive: float,
        client_timeout: float,
        on_closed: Callable[[Connection], None],
    ) -> None:
        self.hub = hub
        self.id = connection_id
        self.token = token
        self.principal = principal
        self.credential = credential  # kept to re-check it when credentials are revoked
        self.tenant_slug = tenant_slug
        self.groups: set[str] = set()
        self._viewer: tuple[Principal, Viewer] | None = None
        self.transport: Transport | None = None
        self.handshaken = False
        self.closed = False
        self.close_error: str | None = None
        self.polled = False  # Long Polling: the first poll returns at once
        self._keepalive = keepalive
        self._client_timeout = client_timeout
        self._on_closed = on_closed
        self._outbox: deque[str] = deque()
        self._wakeup = asyncio.Event()
        self._buffer = ""
        self._last_received = time.monotonic()
        self._last_sent = time.monotonic()
        self._serial = asyncio.Lock()  # non-stream invocations run in order, one at a time
        self._tasks: set[asyncio.Task[None]] = set()
        self._streams: dict[str, asyncio.Task[None]] = {}
        self._monitor = asyncio.get_running_loop().create_task(self._watch())

    # --- who is on the other end --------------------------------------------------------

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id

    @property
    def user_id(self) -> str | None:
        return self.principal.user_id

    def viewer(self) -> Viewer:
        """Asked for every event the connection might get: built again only when the
        principal changes (its groups are the live set)."""
        principal = self.principal
        if self._viewer is None or self._viewer[0] is not principal:
            viewer = Viewer(
                tenant_id=principal.tenant_id,
                user_id=principal.user_id or "",
                permissions=frozenset(p.value for p in principal.permissions),
                session_ids=self.groups,
            )
            self._viewer = (principal, viewer)
        return self._viewer[1]

    # --- outgoing -----------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        self.send_frame(protocol.frame(message))

    def send_frame(self, data: str) -> None:
        """Queues one serialised frame; never blocks. A client that lets too many pile up is
        closed (it may reconnect and catch up through REST)."""
        if self.closed:
            return
        if len(self._outbox) >= MAX_OUTBOX:
            self.close("The connection fell too far behind.", allow_reconnect=True)
            return
        self._outbox.append(data)
        self._last_sent = time.monotonic()
        self._wakeup.set()

    def take(self) -> list[str]:
        """Everything queued so far (the transport writes it)."""
        frames = list(self._outbox)
        self._outbox.clear()
        return frames

    async def wait_outgoing(self, seconds: float | None = None) -> bool:
        """Waits until a frame is queued or the connection closes; False after `seconds`."""
        while not self._outbox and not self.closed:
            self._wakeup.clear()
            if seconds is None:
                await self._wakeup.wait()
                continue
            try:
                async with asyncio.timeout(seconds):
                    await self._wakeup.wait()
            except TimeoutError:
                return False
        return True

    @property
    def drained(self) -> bool:
        return not self._outbox

    # --- incoming -----------------------------------------------------------------------

    def touch(self) -> None:
        """Counts as hearing from the client (a Long Polling request is waiting)."""
        self._last_received = time.monotonic()

    def feed(self, data: str) -> None:
        """Takes transport data (one or more frames, possibly a partial one)."""
        if self.closed:
            return
        self._last_received = time.monotonic()
        self._buffer += data
        frames, self._buffer = protocol.split_frames(self._buffer)
        if len(self._buffer) > MAX_BUFFER_CHARS:
            self.close("A message is too large.")
            return
        for text in frames:
            try:
                self._receive(text)
            except ProtocolError as exc:
                self.close(f"Connection closed with an error. {exc}")
                return
            if self.closed:
                return

    def _receive(self, text: str) -> None:
        if not self.handshaken:
            try:
                protocol.parse_handshake(text)
            except ProtocolError as exc:
                self.send({"error": str(exc)})
                self.close(str(exc), send_close=False)
                return
            self.handshaken = True
            self.send({})
            self.hub.connected(self)
            return
        message = protocol.parse_message(text)
        kind = MessageType(message["type"])
        if kind in (MessageType.INVOCATION, MessageType.STREAM_INVOCATION):
            self._invoke(protocol.invocation(message))
        elif kind is MessageType.CANCEL_INVOCATION:
            stream = self._streams.pop(str(message.get("invocationId")), None)
            if stream is not None:
                stream.cancel()
        elif kind is MessageType.CLOSE:
            self.close(send_close=False)
        elif kind in (MessageType.STREAM_ITEM, MessageType.COMPLETION):
            raise ProtocolError("Client-to-server streams are not supported.")
        # PING: receiving it already reset the client timeout

    def _invoke(self, call: protocol.Invocation) -> None:
        if call.stream_ids:
            if call.invocation_id is not None:
                self.send(
                    protocol.completion(
                        call.invocation_id, error="Client-to-server streams are not supported."
                    )
                )
            return
        if call.type is MessageType.STREAM_INVOCATION:
            assert call.invocation_id is not None  # checked by protocol.invocation
            task = self._spawn(self.hub.stream(self, call))
            self._streams[call.invocation_id] = task
            task.add_done_callback(lambda _: self._streams.pop(str(call.invocation_id), None))
        else:
            self._spawn(self._serially(call))

    async def _serially(self, call: protocol.Invocation) -> None:
        async with self._serial:
            if not self.closed:
                await self.hub.invoke(self, call)

    def _spawn(self, work: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- groups -------------------------------------------------------------------------

    def join(self, group: str) -> None:
        self.groups.add(group)
        self.hub.registry.join(self, group)

    def leave(self, group: str) -> None:
        self.groups.discard(group)
        self.hub.registry.leave(self, group)

    # --- keep-alive and closing --------------------------------------------------------

    async def _watch(self) -> None:
        while not self.closed:
            now = time.monotonic()
            silent_until = self._last_received + self._client_timeout
            ping_at = self._last_sent + self._keepalive
            if now >= silent_until:
                self.close(CLIENT_TIMEOUT_ERROR)
                return
            if self.handshaken and now >= ping_at:
                self.send(protocol.PING)
                ping_at = self._last_sent + self._keepalive
            await asyncio.sleep(max(0.01, min(silent_until, ping_at) - now))

    def close(
        self, error: str | None = None, *, allow_reconnect: bool = False, send_close: bool = True
    ) -> None:
        """Queues a Close message (when the handshake was done) and ends the connection; the
        transport flushes what is queued and then closes."""
        if self.closed:
            return
        if send_close and self.handshaken:
            self.send(protocol.close_message(error, allow_reconnect=allow_reconnect))
        self.closed = True
        self.close_error = error
        self._wakeup.set()
        current = asyncio.current_task()
        for task in (*self._tasks, self._monitor):
            if task is not current:
                task.cancel()
        if self.handshaken:
            self.hub.disconnected(self)
        self._on_closed(self)

    async def aclose(self) -> None:
        """Closes and waits for the connection's own tasks to end."""
        self.close()
        tasks = [t for t in (*self._tasks, self._monitor) if t is not asyncio.current_task()]
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
