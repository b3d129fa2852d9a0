"""The Redis backplane of the event bus: every Gateway replica on the same channel prefix sees
every event; each replica delivers its own events locally at once and ignores their echo."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from sophon.platform.events import DEFAULT_MAX_QUEUE, Event, MemoryEventBus, Predicate, Subscription
from sophon.platform.ids import new_id

log = logging.getLogger("sophon.events")

DEFAULT_PREFIX = "sophon:"


class RedisEventBus:
    """Publishes to `<prefix>events` and fans events from other replicas out to local
    subscribers. Call `start()` (it returns once the channel subscription is confirmed) before
    relying on remote events. A failed Redis publish is logged and counted in
    `publish_failures`; local subscribers have already got the event."""

    def __init__(
        self,
        redis_url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        replica_id: str | None = None,
        max_queue: int = DEFAULT_MAX_QUEUE,
        timeout: float = 5.0,
        retry_interval: float = 1.0,
    ) -> None:
        self.channel = f"{prefix}events"
        self.replica_id = replica_id or new_id("rep")
        self.publish_failures = 0
        self.received_invalid = 0
        self._timeout = timeout
        self._retry_interval = retry_interval
        self._local = MemoryEventBus(max_queue=max_queue)
        self._publisher: Redis = Redis.from_url(
            redis_url, decode_responses=True, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        # no socket_timeout here: the listener waits on an idle channel for as long as it is idle
        self._subscriber: Redis = Redis.from_url(
            redis_url, decode_responses=True, socket_connect_timeout=timeout
        )
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribes; when Redis is unreachable the Gateway still starts (this replica's own
        events flow locally) and the subscription is retried in the background."""
        if self._listener is not None:
            return
        pubsub = self._subscriber.pubsub()
        self._pubsub = pubsub
        try:
            await self._subscribe(pubsub)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("event channel %s not reachable, retrying: %s", self.channel, exc)
            self._listener = asyncio.create_task(self._resubscribe(pubsub), name="event-bus-redis")
            return
        self._listener = asyncio.create_task(self._listen(pubsub), name="event-bus-redis")

    async def _subscribe(self, pubsub: PubSub) -> None:
        await pubsub.subscribe(self.channel)
        async with asyncio.timeout(self._timeout):
            while True:
                message = await pubsub.get_message(timeout=self._timeout)
                if message is not None and message["type"] == "subscribe":
                    return

    async def _resubscribe(self, pubsub: PubSub) -> None:
        while True:
            await asyncio.sleep(self._retry_interval)
            try:
                await self._subscribe(pubsub)
            except (RedisError, OSError, TimeoutError):
                continue
            log.info("event channel %s reachable again", self.channel)
            await self._listen(pubsub)
            return

    async def publish(self, event: Event) -> None:
        self._local.deliver(event)
        envelope = json.dumps({"origin": self.replica_id, "event": event.to_wire()})
        try:
            await self._publisher.publish(self.channel, envelope)
        except (RedisError, OSError) as exc:
            self.publish_failures += 1
            log.warning("event %s (%s) not sent to other replicas: %s", event.id, event.name, exc)

    def subscribe(
        self, accepts: Predicate | None = None, *, max_queue: int | None = None
    ) -> Subscription:
        return self._local.subscribe(accepts, max_queue=max_queue)

    def listen(
        self, on_event: Callable[[Event], None], accepts: Predicate | None = None
    ) -> Subscription:
        return self._local.listen(on_event, accepts)

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()
            self._pubsub = None
        await self._publisher.aclose()
        await self._subscriber.aclose()
        await self._local.aclose()

    async def _listen(self, pubsub: PubSub) -> None:
        while True:
            try:
                # redis-py reconnects and re-subscribes on the next read after a dropped link
                message = await pubsub.get_message(timeout=None)
            except (RedisError, OSError) as exc:
                log.warning("event channel %s unreadable, retrying: %s", self.channel, exc)
                await asyncio.sleep(self._retry_interval)
                continue
            if message is not None and message["type"] == "message":
                self._receive(message["data"])

    def _receive(self, raw: Any) -> None:
        try:
            envelope = json.loads(raw)
            if envelope["origin"] == self.replica_id:
                return  # our own echo: local subscribers already have it
            event = Event.from_wire(envelope["event"])
        except (ValueError, KeyError, TypeError) as exc:
            self.received_invalid += 1
            log.warning("ignored a malformed message on %s: %s", self.channel, exc)
            return
        self._local.deliver(event)
