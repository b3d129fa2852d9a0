"""No event reaches a connection that may not see it: two tenants, Admins and plain members,
every hub connected at once, real chat turns in both tenants and events addressed to each."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from sophon.platform.events import Audience, Event, EventName
from sophon.settings import Settings, Tier
from tests.identity_helpers import Caller, add_user
from tests.license_keys import Authority
from tests.realtime.hub_client import RawHub
from tests.realtime.live import Live
from tests.tenants.tenant_helpers import assign, create_tenant

HUBS = ("notifications", "tasks", "approvals", "chat")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    authority = Authority.new()
    return settings.model_copy(
        update={
            "tier": Tier.ENTERPRISE,
            "license_public_key": authority.public_b64,
            "license_key": authority.licence(),
        }
    )


@dataclass
class Person:
    name: str
    caller: Caller
    tenant_id: str
    hubs: dict[str, RawHub] = field(default_factory=dict)


async def tenant_with_people(live: Live, root: Caller, slug: str) -> list[Person]:
    tenant = await create_tenant(live.http, root, slug)
    admin = await add_user(live.http, root, f"admin@{slug}.example.com", [])
    assert (await assign(live.http, root, tenant["id"], admin.email, ["Admin"])).is_success
    admin.tenant = slug
    member = await add_user(live.http, admin, f"member@{slug}.example.com", ["Member"])
    return [
        Person(f"{slug}-admin", admin, tenant["id"]),
        Person(f"{slug}-member", member, tenant["id"]),
    ]


async def connect(live: Live, person: Person) -> None:
    for name in HUBS:
        hub = await RawHub.open(f"{live.ws_url}/hubs/{name}", headers=person.caller.headers)
        await hub.invoke("Ping")
        person.hubs[name] = hub


def event(name: str, tenant_id: str, user_id: str, **payload: Any) -> Event:
    return Event(
        name, payload, tenant_id=tenant_id, audience=Audience(user_ids=frozenset({user_id}))
    )


async def test_events_stay_with_who_may_see_them(live: Live, owner: Caller) -> None:
    acme = await tenant_with_people(live, owner, "acme")
    globex = await tenant_with_people(live, owner, "globex")
    root_tenant = (await live.http.get("/api/auth/me", headers=owner.headers)).json()
    root = Person("root", owner, root_tenant["tenant"]["id"])
    people = [root, *acme, *globex]
    for person in people:
        await connect(live, person)

    # real chat turns in both tenants at once, each member in their own session group
    turns = await asyncio.gather(
        *(p.hubs["chat"].result("SendMessage", {"content": f"hi {p.name}"}) for p in people)
    )
    sessions = {p.name: t["sessionId"] for p, t in zip(people, turns, strict=True)}
    for person in people:
        await _until_target(person.hubs["chat"], "TaskCompleted")

    # addressed events: to each tenant's member, and one without a tenant
    bus = live.gateway.bus
    for side in (acme, globex):
        member = side[1]
        tid, uid = member.tenant_id, member.caller.id
        await bus.publish(event(EventName.NOTIFICATION.value, tid, uid, id=f"n-{member.name}"))
        await bus.publish(event(EventName.TASK_STARTED.value, tid, uid, taskId=f"t-{member.name}"))
        await bus.publish(
            event(EventName.APPROVAL_REQUESTED.value, tid, uid, id=f"a-{member.name}")
        )
    await bus.publish(
        Event(
            EventName.NOTIFICATION.value, {"id": "n-nobody"}, tenant_id=None,
            audience=Audience(tenant_wide=True),
        )
    )  # fmt: skip
    # a fence per connection: once it arrives, everything published before it has
    for person in people:
        for name, fence in _fences(person).items():
            await bus.publish(fence)
            await _until_target(person.hubs[name], fence.name, marker="fence")

    for person in people:
        got = {name: _payloads(hub) for name, hub in person.hubs.items()}
        is_member = person.name.endswith("-member")
        is_tenant_admin = person.name.endswith("-admin")
        own_member = f"{person.name.split('-')[0]}-member"
        assert [p["id"] for p in got["notifications"]] == (
            [f"n-{person.name}"] if is_member else []
        ), person.name
        expected_tasks = {f"t-{own_member}"} if (is_member or is_tenant_admin) else set()
        assert {p["taskId"] for p in got["tasks"] if p.get("taskId", "").startswith("t-")} == (
            expected_tasks
        ), person.name
        # the tasks hub also carried the real turns: own, or the whole tenant's for Admins
        tenant_sessions = {sessions[p.name] for p in people if p.tenant_id == person.tenant_id}
        allowed = {sessions[person.name]} if is_member else tenant_sessions
        assert {p["sessionId"] for p in got["tasks"] if "sessionId" in p} == allowed, person.name
        assert [p["id"] for p in got["approvals"]] == (
            [f"a-{own_member}"] if (is_member or is_tenant_admin) else []
        ), person.name
        assert {p["sessionId"] for p in got["chat"]} == {sessions[person.name]}, person.name
    for person in people:
        for hub in person.hubs.values():
            await hub.aclose()


def _fences(person: Person) -> dict[str, Event]:
    tid, uid = person.tenant_id, person.caller.id
    return {
        "notifications": event(EventName.NOTIFICATION.value, tid, uid, fence=True),
        "tasks": event(EventName.TASK_STARTED.value, tid, uid, fence=True),
        "approvals": event(EventName.APPROVAL_REQUESTED.value, tid, uid, fence=True),
    }


async def _until_target(hub: RawHub, target: str, marker: str | None = None) -> None:
    def matches(message: dict[str, Any]) -> bool:
        if message.get("type") != 1 or message.get("target") != target:
            return False
        return marker is None or bool(message["arguments"][0].get(marker))

    await hub.next_matching(matches, within=30)


def _payloads(hub: RawHub) -> list[dict[str, Any]]:
    return [m["arguments"][0] for m in hub.events() if not m["arguments"][0].get("fence")]
