"""The hubs of one Gateway process: connections by token, one bus subscription that fans events
out to the hubs' recipients, and revocation (a revoked credential's connections close at once)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import defaultdict
from typing import TYPE_CHECKING

from sophon.identity.auth.revocation import CREDENTIALS_REVOKED
from sophon.platform.errors import DomainError, NotFound
from sophon.platform.events import Event, Subscription
from sophon.platform.ids import new_id
from sophon.platform.principal import Principal
from sophon.realtime import protocol
from sophon.realtime.auth import Credentials, recheck
from sophon.realtime.connection import Connection, Transport
from sophon.realtime.hub import Hub

if TYPE_CHECKING:
    from sophon.gateway import Gateway

log = logging.getLogger("sophon.realtime")

SHUTDOWN_MESSAGE = "The Gateway is restarting."
FLUSH_SECONDS = 1.0  # at most, for clients' Close messages at shutdown


class HubServer:
    def __init__(self, hub_types: list[type[Hub]]) -> None:
        self.hub_types = {t.name: t for t in hub_types}
        self.hubs: dict[str, Hub] = {}
        self.gateway: Gateway | None = None
        self._by_token: dict[str, Connection] = {}
        self._by_user: dict[str, set[Connection]] = defaultdict(set)
        self._subscription: Subscription | None = None
        self._rechecks: set[asyncio.Task[None]] = set()

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.hubs = {name: cls(gateway) for name, cls in self.hub_types.items()}
        names = {CREDENTIALS_REVOKED}.union(*(h.forwards for h in self.hubs.values()))
        # handed on as published: routing an event to outboxes never waits
        self._subscription = gateway.bus.listen(self._on_event, lambda event: event.name in names)

    async def stop(self) -> None:
        """Tells every client to reconnect (to another replica, or to this one restarted)."""
        closing = tuple(self._by_token.values())
        for conn in closing:
            conn.close(SHUTDOWN_MESSAGE, allow_reconnect=True)
        if self._subscription is not None:
            self._subscription.close()
        for task in tuple(self._rechecks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await _flushed(closing)

    @property
    def connection_count(self) -> int:
        return len(self._by_token)

    # --- connections ----------------------------------------------------------------------

    def hub(self, name: str) -> Hub:
        hub = self.hubs.get(name)
        if hub is None:
            raise NotFound(f"No hub '{name}'.", {"hub": name})
        return hub

    def open(self, hub: Hub, principal: Principal, found: Credentials) -> Connection:
        assert self.gateway is not None
        settings = self.gateway.settings
        conn = Connection(
            hub=hub,
            connection_id=new_id("conn"),
            token=secrets.token_urlsafe(24),
            principal=principal,
            credential=found.credential,
            tenant_slug=found.tenant_slug,
            keepalive=settings.hub_keepalive_seconds,
            client_timeout=settings.hub_client_timeout_seconds,
            on_closed=self._forget,
        )
        self._by_token[conn.token] = conn
        if principal.user_id:
            self._by_user[principal.user_id].add(conn)
        return conn

    def find(self, hub: Hub, token: str) -> Connection:
        conn = self._by_token.get(token)
        if conn is None or conn.hub is not hub:
            raise NotFound("No such connection.", {"id": token})
        return conn

    def _forget(self, conn: Connection) -> None:
        self._by_token.pop(conn.token, None)
        if conn.user_id:
            conns = self._by_user.get(conn.user_id)
            if conns is not None:
                conns.discard(conn)
                if not conns:
                    del self._by_user[conn.user_id]

    # --- events ---------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if event.name == CREDENTIALS_REVOKED:
            self._revoked(event)
        else:
            self.deliver(event)

    def deliver(self, event: Event) -> None:
        data: str | None = None
        for hub in self.hubs.values():
            if event.name not in hub.forwards:
                continue
            for conn in hub.recipients(event):
                if data is None:  # serialised once, for every recipient
                    data = protocol.frame(protocol.event_message(event.name, dict(event.payload)))
                conn.send_frame(data)

    def _revoked(self, event: Event) -> None:
        user_id = event.payload.get("userId")
        for conn in tuple(self._by_user.get(str(user_id), ())):
            task = asyncio.create_task(self._recheck(conn))
            self._rechecks.add(task)
            task.add_done_callback(self._rechecks.discard)

    async def _recheck(self, conn: Connection) -> None:
        assert self.gateway is not None
        try:
            principal = await recheck(self.gateway, Credentials(conn.credential, conn.tenant_slug))
            conn.hub.admit(principal)  # roles change too: one that no longer may, goes
        except DomainError as exc:
            conn.close(f"Connection closed with an error. {exc.message}")
            return
        if principal.user_id != conn.user_id or principal.tenant_id != conn.tenant_id:
            conn.close("Connection closed with an error. The credentials changed.")
            return
        conn.principal = principal
        if conn.handshaken:
            conn.hub.registry.refresh(conn)


async def _flushed(conns: tuple[Connection, ...]) -> None:
    """Lets the transports that write by themselves (WebSockets, SSE) send the Close message
    before the server closes their sockets; a Long Polling client gets it if it polls in time."""
    pushed = [c for c in conns if c.transport in (Transport.WEBSOCKETS, Transport.SSE)]
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(FLUSH_SECONDS):
            while True:
                await asyncio.sleep(0)
                if all(c.drained for c in pushed):
                    return
                await asyncio.sleep(0.01)
