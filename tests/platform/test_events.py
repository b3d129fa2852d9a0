"""The event bus: filters, bounded queues, audiences, release after commit (SQLite and
PostgreSQL), and the Redis backplane between two replicas on a real Redis at 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
import redis
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.platform.db import Database
from sophon.platform.errors import Conflict
from sophon.platform.events import (
    Audience,
    Event,
    EventFilter,
    EventName,
    MemoryEventBus,
    Subscription,
    Viewer,
    after_commit,
    attach_bus,
    wait_for_released_events,
)
from sophon.platform.events_redis import RedisEventBus
from sophon.platform.kv import get_setting, put_setting
from sophon.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379"
IN_CI = os.environ.get("CI", "").lower() == "true"
WAIT = 5.0  # safety net only: every wait below ends as soon as the event arrives


def make_event(
    name: str = EventName.TASK_QUEUED,
    *,
    user_ids: frozenset[str] = frozenset(),
    session_id: str | None = None,
    permission: str | None = None,
    tenant_wide: bool = False,
) -> Event:
    """An event for tenant `tnt_a`; tenant-wide when no audience condition is given."""
    if not (user_ids or session_id or permission):
        tenant_wide = True
    audience = Audience(user_ids, session_id, permission, tenant_wide)
    payload = {"taskId": "task_1", "sessionId": "sess_1"}
    return Event(name=name, payload=payload, tenant_id="tnt_a", audience=audience)


async def take(subscription: Subscription, count: int) -> list[Event]:
    return [await asyncio.wait_for(subscription.next(), WAIT) for _ in range(count)]


@pytest.fixture
async def bus() -> AsyncIterator[MemoryEventBus]:
    made = MemoryEventBus()
    yield made
    await made.aclose()


# --- in-process bus --------------------------------------------------------------------------


async def test_subscribers_get_only_events_their_filter_accepts(bus: MemoryEventBus) -> None:
    chat = bus.subscribe(EventFilter(names=frozenset({"TaskQueued", "TaskCompleted"})))
    tenant_b = bus.subscribe(EventFilter(tenant_id="tnt_b"))
    in_session = bus.subscribe(EventFilter(session_id="sess_9"))
    everything = bus.subscribe()
    sent = [
        make_event(EventName.TASK_QUEUED),
        make_event(EventName.STREAM_CHUNK, session_id="sess_9"),
        Event("TaskCompleted", {}, "tnt_b", Audience(user_ids=frozenset({"usr_1"}))),
    ]
    for event in sent:
        await bus.publish(event)

    assert await take(everything, 3) == sent
    assert await take(chat, 2) == [sent[0], sent[2]]
    assert await take(tenant_b, 1) == [sent[2]]
    assert await take(in_session, 1) == [sent[1]]
    assert (chat.pending, tenant_b.pending, in_session.pending) == (0, 0, 0)


async def test_a_callable_is_a_filter_too(bus: MemoryEventBus) -> None:
    only_failures = bus.subscribe(lambda event: event.payload.get("ok") is False)
    await bus.publish(Event("ToolCallCompleted", {"ok": True}, None, Audience(tenant_wide=True)))
    failed = Event("ToolCallCompleted", {"ok": False}, None, Audience(tenant_wide=True))
    await bus.publish(failed)
    assert await take(only_failures, 1) == [failed]
    assert only_failures.pending == 0


async def test_a_slow_subscriber_loses_its_oldest_events_and_blocks_nobody(
    bus: MemoryEventBus,
) -> None:
    slow = bus.subscribe(max_queue=2)
    fast = bus.subscribe()
    sent = [make_event() for _ in range(5)]
    for event in sent:  # nobody reads while publishing: a blocking bus would hang right here
        await asyncio.wait_for(bus.publish(event), WAIT)

    assert await take(fast, 5) == sent
    assert fast.dropped == 0
    assert slow.dropped == 3
    assert await take(slow, 2) == sent[3:]  # drop-oldest: the newest survive


async def test_closing_ends_iteration_and_detaches(bus: MemoryEventBus) -> None:
    async with bus.subscribe() as scoped:
        assert bus.subscriber_count == 1
    assert scoped.closed
    assert bus.subscriber_count == 0

    reader = bus.subscribe()
    await bus.publish(first := make_event())
    received: list[Event] = []

    async def read_all() -> None:
        received.extend([event async for event in reader])

    task = asyncio.create_task(read_all())
    await bus.aclose()
    await asyncio.wait_for(task, WAIT)
    assert received == [first]  # queued events are still handed out, then iteration stops
    with pytest.raises(RuntimeError):
        await bus.publish(make_event())


def test_subscription_queue_must_hold_something(bus: MemoryEventBus) -> None:
    with pytest.raises(ValueError, match="max_queue"):
        bus.subscribe(max_queue=0)


# --- audiences ---------------------------------------------------------------------------------


def test_audience_conditions_narrow_each_other_and_default_to_nobody() -> None:
    alice = Viewer("tnt_a", "usr_alice", permissions={"chat.read"}, session_ids={"sess_1"})
    bob = Viewer("tnt_a", "usr_bob")
    outsider = Viewer("tnt_b", "usr_alice", permissions={"chat.read"}, session_ids={"sess_1"})

    def visible(event: Event) -> list[bool]:
        return [event.visible_to(viewer) for viewer in (alice, bob, outsider)]

    assert visible(make_event(tenant_wide=True)) == [True, True, False]
    assert visible(make_event(user_ids=frozenset({"usr_bob"}))) == [False, True, False]
    assert visible(make_event(session_id="sess_1")) == [True, False, False]
    assert visible(make_event(permission="chat.read")) == [True, False, False]
    narrowed = make_event(user_ids=frozenset({"usr_alice"}), session_id="sess_2")
    assert visible(narrowed) == [False, False, False]
    nobody = Event("AgentStatus", {}, "tnt_a", Audience())
    assert visible(nobody) == [False, False, False]


def test_events_survive_the_wire_format() -> None:
    event = make_event(user_ids=frozenset({"usr_1", "usr_2"}), session_id="s", permission="p")
    assert Event.from_wire(event.to_wire()) == event
    assert event.id.startswith("evt_")


# --- release after commit ----------------------------------------------------------------------


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    assert settings.database_url is not None
    made = Database(settings.database_url)
    yield made
    await made.close()


async def test_committed_events_arrive_after_the_row_is_visible(
    database: Database, bus: MemoryEventBus
) -> None:
    subscription = bus.subscribe()
    unread = bus.subscribe()  # nobody reads it, so whatever reached it before commit stays there
    seen_by_another_session: list[object] = []

    async def check_row_when_event_arrives() -> None:
        event = await subscription.next()
        async with database.transaction(readonly=True) as other:
            seen_by_another_session.append(await get_setting(other, event.payload["key"]))

    checker = asyncio.create_task(check_row_when_event_arrives())
    resolved = Event("ApprovalResolved", {"key": "events.test"}, None, Audience())
    async with database.transaction() as session:
        await put_setting(session, "events.test", {"v": 1})
        after_commit(session, resolved, bus=bus)
        await session.flush()
        assert unread.pending == 0  # held back until the commit
    await asyncio.wait_for(checker, WAIT)
    await wait_for_released_events()
    assert unread.pending == 1
    assert seen_by_another_session == [{"v": 1}]


async def test_rolled_back_events_are_dropped(database: Database, bus: MemoryEventBus) -> None:
    subscription = bus.subscribe()

    async def write_then_refuse() -> None:
        async with database.transaction() as session:
            attach_bus(session, bus)
            await put_setting(session, "events.rollback", 1)
            after_commit(session, make_event(EventName.TASK_FAILED))
            raise Conflict("changed my mind")

    with pytest.raises(Conflict):
        await write_then_refuse()

    async with database.transaction() as session:
        attach_bus(session, bus)
        after_commit(session, marker := make_event(EventName.TASK_COMPLETED))
    await wait_for_released_events()
    assert await take(subscription, 1) == [marker]  # the rolled-back event never came first
    assert subscription.pending == 0
    async with database.transaction(readonly=True) as session:
        assert await get_setting(session, "events.rollback") is None


async def test_a_rolled_back_savepoint_drops_only_its_own_events(
    database: Database, bus: MemoryEventBus
) -> None:
    subscription = bus.subscribe()
    kept, lost, released = make_event(), make_event(), make_event()

    async def undone_savepoint(session: AsyncSession) -> None:
        async with session.begin_nested():
            after_commit(session, lost, bus=bus)
            raise Conflict("undo the savepoint")

    async with database.transaction() as session:
        after_commit(session, kept, bus=bus)
        with pytest.raises(Conflict):
            await undone_savepoint(session)
        async with session.begin_nested():
            after_commit(session, released, bus=bus)
        assert subscription.pending == 0  # a released savepoint is not a commit
    await wait_for_released_events()
    assert await take(subscription, 2) == [kept, released]
    assert subscription.pending == 0


async def test_after_commit_needs_a_bus(database: Database) -> None:
    async with database.transaction() as session:
        with pytest.raises(RuntimeError, match="no event bus"):
            after_commit(session, make_event())


# --- Redis backplane ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_unavailable() -> str | None:
    """Why Redis can't be used here, or None. Under CI it must be reachable."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        if IN_CI:
            raise RuntimeError(f"Redis is required under CI=true: {exc}") from exc
        return f"Redis at {REDIS_URL} is unreachable ({exc})"
    finally:
        client.close()
    return None


@pytest.fixture
def redis_prefix(redis_unavailable: str | None) -> str:
    if redis_unavailable:
        pytest.skip(redis_unavailable)
    return f"sophon-test:{uuid.uuid4().hex}:"


@pytest.fixture
async def replicas(redis_prefix: str) -> AsyncIterator[tuple[RedisEventBus, RedisEventBus]]:
    first = RedisEventBus(REDIS_URL, prefix=redis_prefix)
    second = RedisEventBus(REDIS_URL, prefix=redis_prefix)
    await first.start()
    await second.start()
    yield first, second
    await first.aclose()
    await second.aclose()


async def test_replicas_see_each_others_events_exactly_once(
    replicas: tuple[RedisEventBus, RedisEventBus],
) -> None:
    first, second = replicas
    own = {id(first): first.subscribe(), id(second): second.subscribe()}
    # ping-pong: each event is published only after the previous one crossed over, and a
    # replica's subscriber reads every event in order, so a wrongly delivered echo of the
    # previous event would show up in place of the next one
    for turn in range(4):
        publisher, other = (first, second) if turn % 2 == 0 else (second, first)
        event = make_event(EventName.STREAM_CHUNK, session_id=f"sess_{turn}")
        await publisher.publish(event)
        assert await take(own[id(publisher)], 1) == [event]  # local delivery, once
        assert await take(own[id(other)], 1) == [event]  # through Redis, once

    assert first.publish_failures == second.publish_failures == 0
    assert first.received_invalid == second.received_invalid == 0


async def test_other_prefixes_are_other_clusters(
    replicas: tuple[RedisEventBus, RedisEventBus], redis_prefix: str
) -> None:
    first, _ = replicas
    elsewhere = [RedisEventBus(REDIS_URL, prefix=redis_prefix + "other:") for _ in range(2)]
    for bus in elsewhere:
        await bus.start()
    try:
        outside = elsewhere[0].subscribe()
        await first.publish(make_event())
        # Redis hands a connection its messages in publish order: had the other cluster heard
        # the first event, it would arrive before this marker
        await elsewhere[1].publish(marker := make_event())
        assert await take(outside, 1) == [marker]
    finally:
        for bus in elsewhere:
            await bus.aclose()


async def test_an_unreachable_redis_does_not_stop_local_events() -> None:
    bus = RedisEventBus("redis://127.0.0.1:1/0", timeout=0.5, retry_interval=0.05)
    await bus.start()  # logs and keeps retrying instead of failing the Gateway's start
    try:
        async with bus.subscribe() as mine:
            event = make_event(EventName.TASK_QUEUED)
            await bus.publish(event)
            assert (await asyncio.wait_for(mine.next(), 5)).id == event.id
        assert bus.publish_failures == 1
    finally:
        await bus.aclose()
