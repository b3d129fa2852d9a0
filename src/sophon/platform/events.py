"""The Gateway's internal event bus: typed events with an audience, bounded per-subscriber queues,
an in-process backend, and release of events only after the database transaction commits."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from sophon.platform.clock import utcnow
from sophon.platform.ids import new_id

log = logging.getLogger("sophon.events")

DEFAULT_MAX_QUEUE = 1000
BUS_INFO_KEY = "sophon.event_bus"
_OUTBOX_INFO_KEY = "sophon.event_outbox"


class EventName(StrEnum):
    """Events the chat runtime publishes (names as the chat hub sends them to clients)."""

    TASK_QUEUED = "TaskQueued"
    TASK_STARTED = "TaskStarted"
    AGENT_STATUS = "AgentStatus"
    STREAM_CHUNK = "StreamChunk"
    TOOL_CALL_STARTED = "ToolCallStarted"
    TOOL_CALL_COMPLETED = "ToolCallCompleted"
    RECEIVE_MESSAGE = "ReceiveMessage"
    TASK_COMPLETED = "TaskCompleted"
    TASK_FAILED = "TaskFailed"
    TASK_CANCELLED = "TaskCancelled"
    APPROVAL_REQUESTED = "ApprovalRequested"
    APPROVAL_RESOLVED = "ApprovalResolved"
    NOTIFICATION = "Notification"
    CRON_FIRED = "CronFired"
    CRON_FAILED = "CronFailed"
    WORKFLOW_RUN_STARTED = "WorkflowRunStarted"
    WORKFLOW_NODE_STARTED = "WorkflowNodeStarted"
    WORKFLOW_NODE_COMPLETED = "WorkflowNodeCompleted"
    WORKFLOW_RUN_WAITING = "WorkflowRunWaiting"
    WORKFLOW_RUN_COMPLETED = "WorkflowRunCompleted"
    WORKFLOW_RUN_FAILED = "WorkflowRunFailed"


@dataclass(frozen=True, slots=True)
class Viewer:
    """What a hub knows about one connection when deciding whether it may see an event."""

    tenant_id: str | None
    user_id: str
    permissions: Collection[str] = ()
    session_ids: Collection[str] = ()  # session groups the connection has joined


@dataclass(frozen=True, slots=True)
class Audience:
    """Who may see an event. Every condition given must hold (they narrow each other); an
    audience with no condition admits nobody unless `tenant_wide` is set (default deny)."""

    user_ids: frozenset[str] = frozenset()
    session_id: str | None = None
    permission: str | None = None
    tenant_wide: bool = False

    def admits(self, viewer: Viewer) -> bool:
        if not (self.user_ids or self.session_id or self.permission or self.tenant_wide):
            return False
        if self.user_ids and viewer.user_id not in self.user_ids:
            return False
        if self.session_id is not None and self.session_id not in viewer.session_ids:
            return False
        return self.permission is None or self.permission in viewer.permissions


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    payload: Mapping[str, Any]
    tenant_id: str | None
    audience: Audience
    id: str = field(default_factory=lambda: new_id("evt"))
    at: datetime = field(default_factory=utcnow)
    remote: bool = field(default=False, compare=False)  # read off the wire: another replica's

    def visible_to(self, viewer: Viewer) -> bool:
        """The per-connection check a hub makes: same tenant, and admitted by the audience."""
        return viewer.tenant_id == self.tenant_id and self.audience.admits(viewer)

    def to_wire(self) -> dict[str, Any]:
        """A JSON-ready dict (payload must be JSON-serialisable); inverse of `from_wire`."""
        return {
            "id": self.id,
            "name": self.name,
            "payload": dict(self.payload),
            "tenantId": self.tenant_id,
            "at": self.at.isoformat(),
            "audience": {
                "userIds": sorted(self.audience.user_ids),
                "sessionId": self.audience.session_id,
                "permission": self.audience.permission,
                "tenantWide": self.audience.tenant_wide,
            },
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Event:
        audience = data["audience"]
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            payload=dict(data["payload"]),
            tenant_id=data["tenantId"],
            at=datetime.fromisoformat(data["at"]),
            audience=Audience(
                user_ids=frozenset(audience["userIds"]),
                session_id=audience["sessionId"],
                permission=audience["permission"],
                tenant_wide=bool(audience["tenantWide"]),
            ),
            remote=True,
        )


@dataclass(frozen=True, slots=True)
class EventFilter:
    """A ready-made subscription filter; any callable `Event -> bool` works too. Empty fields
    match everything."""

    names: frozenset[str] = frozenset()
    tenant_id: str | None = None
    session_id: str | None = None

    def __call__(self, event: Event) -> bool:
        if self.names and event.name not in self.names:
            return False
        if self.tenant_id is not None and event.tenant_id != self.tenant_id:
            return False
        return self.session_id is None or event.audience.session_id == self.session_id


Predicate = Callable[[Event], bool]


class Subscription:
    """A bounded queue of matching events, read with `async for`. When it is full the OLDEST
    queued event is dropped and counted in `dropped`: publishers and other subscribers never
    wait for a slow reader. A hub may watch `dropped` and close a connection that falls behind.
    Iteration ends when the subscription or its bus is closed (after the queue is drained)."""

    def __init__(
        self, accepts: Predicate | None, max_queue: int, detach: Callable[[Subscription], None]
    ) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        self._accepts = accepts
        self._max_queue = max_queue
        self._detach = detach
        self._queue: deque[Event] = deque()
        self._wakeup = asyncio.Event()
        self._closed = False
        self.dropped = 0

    @property
    def pending(self) -> int:
        return len(self._queue)

    @property
    def closed(self) -> bool:
        return self._closed

    def offer(self, event: Event) -> None:
        """Called by the bus; never blocks."""
        if self._closed or (self._accepts is not None and not self._accepts(event)):
            return
        if len(self._queue) >= self._max_queue:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(event)
        self._wakeup.set()

    async def next(self) -> Event:
        """The next event; raises `StopAsyncIteration` once closed and drained."""
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._queue.popleft()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._wakeup.set()
            self._detach(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        return await self.next()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Listener(Subscription):
    """A subscription that hands each matching event to `on_event` at once, in the publisher's
    call, instead of queueing it for a reader task: for a consumer that only routes events on
    without awaiting (the hubs), this saves a task switch per event. An exception in `on_event`
    is logged; the publisher and the other subscribers never see it."""

    def __init__(
        self,
        on_event: Callable[[Event], None],
        accepts: Predicate | None,
        detach: Callable[[Subscription], None],
    ) -> None:
        super().__init__(accepts, 1, detach)
        self._on_event = on_event

    def offer(self, event: Event) -> None:
        if self.closed or (self._accepts is not None and not self._accepts(event)):
            return
        try:
            self._on_event(event)
        except Exception:
            log.exception("a listener failed on event %s (%s)", event.id, event.name)


class EventBus(Protocol):
    async def start(self) -> None: ...

    async def publish(self, event: Event) -> None: ...

    def subscribe(
        self, accepts: Predicate | None = None, *, max_queue: int | None = None
    ) -> Subscription: ...

    def listen(
        self, on_event: Callable[[Event], None], accepts: Predicate | None = None
    ) -> Subscription: ...

    async def aclose(self) -> None: ...


class MemoryEventBus:
    """In-process fan-out. `subscribe` registers at once, so a subscriber made before a publish
    sees that event."""

    def __init__(self, *, max_queue: int = DEFAULT_MAX_QUEUE) -> None:
        self._max_queue = max_queue
        self._subscriptions: set[Subscription] = set()
        self._closed = False

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    async def start(self) -> None:
        return None

    async def publish(self, event: Event) -> None:
        self.deliver(event)

    def deliver(self, event: Event) -> None:
        """Hands the event to every local subscriber without awaiting anything."""
        if self._closed:
            raise RuntimeError("the event bus is closed")
        for subscription in tuple(self._subscriptions):
            subscription.offer(event)

    def subscribe(
        self, accepts: Predicate | None = None, *, max_queue: int | None = None
    ) -> Subscription:
        if self._closed:
            raise RuntimeError("the event bus is closed")
        subscription = Subscription(
            accepts,
            self._max_queue if max_queue is None else max_queue,
            self._subscriptions.discard,
        )
        self._subscriptions.add(subscription)
        return subscription

    def listen(
        self, on_event: Callable[[Event], None], accepts: Predicate | None = None
    ) -> Subscription:
        """`on_event` gets every accepted event as it is published (see `Listener`); closing
        the returned subscription stops it."""
        if self._closed:
            raise RuntimeError("the event bus is closed")
        listener = Listener(on_event, accepts, self._subscriptions.discard)
        self._subscriptions.add(listener)
        return listener

    async def aclose(self) -> None:
        self._closed = True
        for subscription in tuple(self._subscriptions):
            subscription.close()


def build_event_bus(redis_url: str | None) -> EventBus:
    """The in-process bus, or the Redis backplane when a Redis URL is configured."""
    if redis_url:
        from sophon.platform.events_redis import RedisEventBus  # redis loads only if used

        return RedisEventBus(redis_url)
    return MemoryEventBus()


# --- release after commit -------------------------------------------------------------------

_release_tasks: set[asyncio.Task[None]] = set()

CommitHook = Callable[[Session, Sequence[Event]], None]
"""Called inside the outermost commit of a session that queued events, just before it commits,
with those events (ones of rolled-back savepoints left out). What it adds to the session commits
with the events' cause, or not at all."""
_commit_hooks: list[CommitHook] = []


def install_commit_hook(hook: CommitHook) -> None:
    """Installs `hook` once for the process (the composition root does, e.g. for the webhook
    deliveries that must be written in the same transaction as the event's cause). The hook runs
    in SQLAlchemy's sync context: it may query and add rows through the sync session."""
    if hook not in _commit_hooks:
        _commit_hooks.append(hook)


def attach_bus(session: AsyncSession | Session, bus: EventBus) -> None:
    """Makes `bus` the default target of `after_commit` for this session."""
    _sync(session).info[BUS_INFO_KEY] = bus


def after_commit(
    session: AsyncSession | Session, *events: Event, bus: EventBus | None = None
) -> None:
    """Queues events on the session: they are published (in order) once its outermost
    transaction commits, and dropped if the transaction — or the savepoint they were queued in —
    rolls back. The bus defaults to the one given to `attach_bus`."""
    sync = _sync(session)
    target = bus if bus is not None else sync.info.get(BUS_INFO_KEY)
    if target is None:
        raise RuntimeError("no event bus: pass bus= or call attach_bus(session, bus) first")
    outbox = sync.info.get(_OUTBOX_INFO_KEY)
    if outbox is None:
        outbox = sync.info[_OUTBOX_INFO_KEY] = _Outbox()
    # autobegin now, so the events belong to the transaction the caller is in
    transaction = sync.get_nested_transaction() or sync.get_transaction() or sync.begin()
    outbox.entries.extend((transaction, target, item) for item in events)


async def wait_for_released_events() -> None:
    """Waits until every event released by a commit so far has been handed to its bus (for an
    orderly shutdown)."""
    while _release_tasks:
        await asyncio.gather(*tuple(_release_tasks), return_exceptions=True)


def _sync(session: AsyncSession | Session) -> Session:
    return session.sync_session if isinstance(session, AsyncSession) else session


class _Outbox:
    """Per-session staging area. The transaction hooks below are installed once on the Session
    class, not on each session: per-session listeners cost every session that publishes a
    listener collection of its own, built again for each new session."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: list[tuple[SessionTransaction, EventBus, Event]] = []


def _outbox(session: Session) -> _Outbox | None:
    outbox: _Outbox | None = session.info.get(_OUTBOX_INFO_KEY)
    return outbox if outbox is not None and outbox.entries else None


@sa_event.listens_for(Session, "before_commit")
def _committing(session: Session) -> None:
    outbox = _outbox(session)
    if outbox is None or session.get_nested_transaction() is not None:
        return
    events = [item for _, _, item in outbox.entries]
    for hook in tuple(_commit_hooks):
        hook(session, events)


@sa_event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    outbox = _outbox(session)
    if outbox is None or session.get_nested_transaction() is not None:
        return  # a savepoint was released: its events wait for the outermost commit
    released, outbox.entries = outbox.entries, []
    _schedule_release([(bus, item) for _, bus, item in released])


@sa_event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    outbox = _outbox(session)
    if outbox is None:
        return
    undone = session.get_nested_transaction()
    if undone is None:
        outbox.entries = []
        return
    outbox.entries = [entry for entry in outbox.entries if not _within(entry[0], undone)]


@sa_event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    outbox = _outbox(session)
    if outbox is not None and transaction.parent is None:
        outbox.entries = []  # closed without commit (e.g. session.close()): nothing is released


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


def _schedule_release(released: Iterable[tuple[EventBus, Event]]) -> None:
    items = list(released)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        log.error("%d committed events dropped: no running event loop to publish them", len(items))
        return
    task = loop.create_task(_publish_all(items))
    _release_tasks.add(task)
    task.add_done_callback(_release_tasks.discard)


async def _publish_all(items: list[tuple[EventBus, Event]]) -> None:
    for bus, item in items:
        try:
            await bus.publish(item)
        except Exception:  # the commit is done; one failed publish must not stop the others
            log.exception("publishing committed event %s (%s) failed", item.id, item.name)
