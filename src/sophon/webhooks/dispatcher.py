"""Sends outbound deliveries: a queue worker of its own for `webhook.deliver` jobs, woken by the
bus when events are committed, posting through the SSRF-guarded client (destination vetted at
every connection, redirects not followed, 10 s per attempt)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

import httpx

from sophon.platform.clock import utcnow
from sophon.platform.db import Database
from sophon.platform.events import Event, EventBus, Subscription
from sophon.platform.http import OutboundRefused, outbound_client, split_allow_setting
from sophon.platform.queue import ClaimedJob
from sophon.platform.queue_worker import Worker
from sophon.platform.vault import Vault
from sophon.settings import Settings
from sophon.webhooks import catalog, delivery_service
from sophon.webhooks.delivery_service import BODY_EXCERPT, Outcome, Outgoing, Policy
from sophon.webhooks.outbox import DELIVER_JOB
from sophon.webhooks.service import DELIVERY_QUEUED
from sophon.webhooks.signing import outbound_headers

log = logging.getLogger("sophon.webhooks")
WAKE_ON = frozenset(catalog.BY_BUS_NAME) | {DELIVERY_QUEUED}


def _may_queue_deliveries(event: Event) -> bool:
    """A delivery queued by hand, or another replica's event: the deliveries this process's
    commits stage for their events wake the worker themselves (`queue.on_enqueued`)."""
    return event.name == DELIVERY_QUEUED or (event.remote and event.name in WAKE_ON)


def delivery_client(settings: Settings, **overrides: Any) -> httpx.AsyncClient:
    """The guarded client deliveries go through (tests pass a `resolver`)."""
    timeout = settings.webhook_timeout_seconds
    options: dict[str, Any] = {
        "allow": split_allow_setting(settings.outbound_allow),
        "timeout": httpx.Timeout(timeout),
        "total_timeout": timeout,
        "follow_redirects": False,
        "max_response_bytes": None,
        "limits": httpx.Limits(
            max_connections=settings.webhook_concurrency * 2,
            max_keepalive_connections=settings.webhook_concurrency,
        ),
    }
    return outbound_client(**(options | overrides))


class Dispatcher:
    def __init__(
        self,
        database: Database,
        bus: EventBus,
        vault: Vault,
        settings: Settings,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.database = database
        self.bus = bus
        self.vault = vault
        self.settings = settings
        self._client = client
        self.policy = Policy(
            retry_schedule=list(settings.webhook_retry_schedule),
            disable_after=timedelta(days=settings.webhook_disable_after_days),
        )
        self.worker = Worker(
            database,
            {DELIVER_JOB: self.handle},
            lease_seconds=settings.task_lease_seconds,
            poll_interval=settings.queue_poll_seconds,
            concurrency=settings.webhook_concurrency,
        )
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def client(self) -> httpx.AsyncClient:
        """Built on the first delivery: its TLS context was a hundredth of the Gateway's start."""
        if self._client is None:
            self._client = delivery_client(self.settings)
        return self._client

    @client.setter
    def client(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def start(self) -> None:
        listener = self.bus.subscribe(_may_queue_deliveries)
        self._tasks = [
            asyncio.create_task(self._listen(listener), name="webhooks-listener"),
            asyncio.create_task(self.worker.run_until_stopped(self._stop), name="webhooks"),
        ]

    async def stop(self) -> None:
        self._stop.set()
        self._tasks[0].cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    async def _listen(self, subscription: Subscription) -> None:
        async with subscription:
            async for _ in subscription:
                self.worker.notify()

    async def handle(self, job: ClaimedJob) -> dict[str, Any] | None:
        delivery_id = str(job.payload["deliveryId"])
        async with self.database.transaction(readonly=True, tenant_id=job.tenant_id) as db:
            outgoing = await delivery_service.prepare(db, self.vault, delivery_id)
        if outgoing == delivery_service.CLOSE:
            await self.database.uninterrupted(
                lambda db: delivery_service.close(db, delivery_id), tenant_id=job.tenant_id
            )
        if not isinstance(outgoing, Outgoing):
            return {"sent": False}
        at = utcnow()
        outcome = await self.send(outgoing)
        await self.database.uninterrupted(
            lambda db: delivery_service.record_attempt(db, delivery_id, outcome, self.policy, at),
            tenant_id=job.tenant_id,
        )
        return {"sent": True, "statusCode": outcome.status_code}

    async def send(self, outgoing: Outgoing) -> Outcome:
        stamp = int(utcnow().timestamp())
        signed = outbound_headers(outgoing.secrets, outgoing.delivery_id, stamp, outgoing.body)
        headers = {**outgoing.headers, "content-type": "application/json", **signed}
        started = time.perf_counter()
        if outgoing.problem is not None:
            return self._failed(started, outgoing.problem)
        try:
            request = self.client.build_request(
                "POST", outgoing.url, content=outgoing.body, headers=headers
            )
            response = await self.client.send(request, stream=True)
            try:
                excerpt = bytearray()
                async for chunk in response.aiter_raw():
                    excerpt += chunk
                    if len(excerpt) >= BODY_EXCERPT:
                        break
            finally:
                await response.aclose()
        except OutboundRefused as exc:
            return self._failed(started, f"refused: {exc.message}")
        except httpx.HTTPError as exc:
            return self._failed(started, f"{type(exc).__name__}: {exc}"[:1000])
        return Outcome(
            status_code=response.status_code,
            duration_ms=_ms_since(started),
            response_headers={k: v[:1000] for k, v in list(response.headers.items())[:50]},
            response_body=bytes(excerpt[:BODY_EXCERPT]).decode("utf-8", "replace"),
            error=None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}",
        )

    @staticmethod
    def _failed(started: float, error: str) -> Outcome:
        return Outcome(None, _ms_since(started), {}, None, error)


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
