"""The authorization matrix, generated from the route table (issue 9): for every operation that
is not public, anonymous → 401, a member lacking the permission → 403, a user outside the tenant
→ 403, an Admin's token holding one other permission → 403 and one holding the operation's
permission through the guard (issue 16); and for real objects, another user's → 404, another
tenant's → 404. A route added without a declaration, or with one the matrix does not know, or
open to any credential without being about the caller's own identity, fails here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI

from sophon.platform.access import GuardedRoute
from sophon.platform.permissions import Permission
from sophon.platform.tenancy import DEFAULT_TENANT_SLUG
from sophon.settings import Settings, Tier
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user
from tests.license_keys import Authority
from tests.security.route_matrix import (
    CREDENTIAL_ONLY,
    Operation,
    declaration_problems,
    guarded_routes,
    operations,
)
from tests.tenants.tenant_helpers import assign, create_tenant

OTHER = "acme"
F = TypeVar("F", bound=Callable[..., Any])


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """An Enterprise Gateway (tenants need it) whose every licensed feature is on, so feature
    gates never mask the permission check. Rate limits off: the matrix sends hundreds of
    requests as one user and would otherwise meet 429 instead of the answer under test. Workers
    off: chat turns only need to exist as tasks, not to run."""
    authority = Authority.new()
    return settings.model_copy(
        update={
            "tier": Tier.ENTERPRISE,
            "license_public_key": authority.public_b64,
            "license_key": authority.licence(),
            "rate_limits_enabled": False,
            "run_workers": False,
        }
    )


SQLITE_ONLY: set[str] = set()


def sqlite_only(test: F) -> F:
    """Authorization is decided before any tenant data is read and does not depend on the
    database: the generated matrix runs once, on SQLite, to keep the file fast. The object and
    tenant cases, which do read data, run on both databases."""
    SQLITE_ONLY.add(test.__name__)
    return test


@pytest.fixture(autouse=True)
def _skip_matrix_on_postgresql(request: pytest.FixtureRequest) -> None:
    # autouse, so it runs before a PostgreSQL database is cloned for nothing
    callspec = getattr(request.node, "callspec", None)
    on_pg = callspec is not None and callspec.params.get("database_url") == "postgresql"
    if on_pg and request.function.__name__ in SQLITE_ONLY:
        pytest.skip("the generated matrix runs on SQLite only (authorization is DB-independent)")


async def _call(
    client: httpx.AsyncClient, op: Operation, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.request(op.method, op.path, headers=headers or {}, json=op.body)


def _error_code(response: httpx.Response) -> str | None:
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return str(code)


def _refused_for(response: httpx.Response) -> object:
    """The permission a 403 names as missing."""
    try:
        return response.json()["error"]["details"].get("permission")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


# --- the route table ------------------------------------------------------------------------


@sqlite_only
def test_every_route_is_declared_and_in_the_matrix(app: FastAPI) -> None:
    assert declaration_problems(app) == []
    expected = {
        (method, path)
        for path, route in guarded_routes(app)
        if isinstance(route, GuardedRoute) and route.access.label != "public"
        for method in (route.methods or set()) - {"HEAD"}
    }
    ops = operations(app)
    assert {(op.method, op.template) for op in ops} == expected
    assert len(ops) > 90  # the matrix is not silently empty


@sqlite_only
def test_only_the_callers_own_identity_is_open_to_any_credential(app: FastAPI) -> None:
    open_to_all = {op.name for op in operations(app) if not (op.permissions or op.any_of)}
    assert open_to_all == CREDENTIAL_ONLY


@sqlite_only
def test_a_route_added_without_a_declaration_is_caught(app: FastAPI) -> None:
    async def naked() -> None:
        return None

    app.add_api_route("/api/naked", naked, methods=["GET"])  # a plain route, no guard
    assert declaration_problems(app) == ["/api/naked bypasses the access declaration"]


# --- the generated matrix -------------------------------------------------------------------


@sqlite_only
async def test_anonymous_callers_get_401_everywhere(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    failures = []
    for op in operations(app):
        response = await _call(client, op)
        if response.status_code != 401 or _error_code(response) != "unauthenticated":
            failures.append(f"{op}: {response.status_code} {response.text[:120]}")
    assert not failures, "\n".join(failures)


@sqlite_only
async def test_a_member_without_roles_gets_403_where_a_permission_is_needed(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    member = await add_user(client, admin, "norole@example.com", roles=[])
    failures = []
    # signing out last: it ends the session the other cases use
    ops = sorted(operations(app), key=lambda op: op.template == "/api/auth/logout")
    for op in ops:
        response = await _call(client, op, member.headers)
        if op.permissions or op.any_of:
            ok = response.status_code == 403 and _error_code(response) == "not_authorized"
        else:  # any member may call it: refused for another reason (404, 422...) or served
            ok = response.status_code not in (401, 403) and response.status_code < 500
        if not ok:
            failures.append(f"{op}: {response.status_code} {response.text[:160]}")
    assert not failures, "\n".join(failures)


@sqlite_only
async def test_a_token_holding_one_permission_is_bound_by_it_on_every_route(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    catalog = sorted(p.value for p in Permission)
    tokens = {}
    for name in catalog:  # made by an Admin: the token's subset is all that limits it
        made = await client.post(
            "/api/auth/tokens",
            headers=admin.headers,
            json={"name": f"only {name}", "permissions": [name]},
        )
        assert made.status_code == 201, made.text
        tokens[name] = {"Authorization": f"Bearer {made.json()['token']}"}
    failures = []
    for i, op in enumerate(operations(app)):
        admitted = [p for p in catalog if op.admits(p)]
        refused = [p for p in catalog if p not in admitted]
        # the ViewUsers token and another refused one (a different one each time)...
        wrong = {"ViewUsers", refused[i % len(refused)]} & set(refused) if refused else set()
        for name in sorted(wrong):
            response = await _call(client, op, tokens[name])
            named = _refused_for(response)
            if response.status_code != 403 or named not in (*op.permissions, *op.any_of):
                failures.append(f"{op} with {name}: {response.status_code} {response.text[:160]}")
        # ...and every permission that lets it through (one, where any credential may call)
        right = admitted if refused else [admitted[i % len(admitted)]]
        for name in right:
            response = await _call(client, op, tokens[name])
            if response.status_code in (401, 403) or response.status_code >= 500:
                failures.append(f"{op} with {name}: {response.status_code} {response.text[:160]}")
    assert not failures, "\n".join(failures)


@sqlite_only
async def test_a_user_outside_the_named_tenant_gets_403_everywhere(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    await create_tenant(client, admin, OTHER)
    outsider = await add_user(client, admin, "outsider@example.com", roles=["Admin"])
    outsider.tenant = OTHER  # an Admin at home, nobody in acme
    by_prefix = {"Authorization": f"Bearer {outsider.token}"}
    failures = []
    for op in operations(app):
        calls = [await _call(client, op, outsider.headers)]  # tenant named by header
        if op.template.startswith("/api/"):  # ... and by the /api/tenants/{slug} prefix
            prefixed = f"/api/tenants/{OTHER}/{op.path.removeprefix('/api/')}"
            calls.append(await client.request(op.method, prefixed, headers=by_prefix, json=op.body))
        for response in calls:
            if response.status_code != 403 or _error_code(response) != "not_authorized":
                failures.append(f"{op} {response.url.path}: {response.status_code}")
    assert not failures, "\n".join(failures)


# --- real objects: another user's, another tenant's -----------------------------------------


@dataclass
class Owned:
    """What Alice, a Member of the default tenant, made, and what the tenant's Admin made."""

    alice: Caller
    session_id: str
    task_id: str
    entry_id: str
    token_id: str
    auth_session_id: str
    agent_id: str
    provider_id: str

    def private_reads_and_writes(self) -> list[tuple[str, str, dict[str, Any] | None]]:
        """Every operation on Alice's own objects; for anyone else each is 404."""
        s, t, e = self.session_id, self.task_id, self.entry_id
        return [
            ("GET", f"/api/sessions/{s}", None),
            ("GET", f"/api/sessions/{s}/messages", None),
            ("PATCH", f"/api/sessions/{s}", {"title": "stolen"}),
            ("POST", f"/api/sessions/{s}/fork", {}),
            ("DELETE", f"/api/sessions/{s}", None),
            ("GET", f"/api/tasks/{t}", None),
            ("POST", f"/api/tasks/{t}/cancel", None),
            ("GET", f"/api/memory/entries/{e}", None),
            ("GET", f"/api/memory/entries/{e}/versions", None),
            ("PATCH", f"/api/memory/entries/{e}", {"content": "stolen"}),
            ("POST", f"/api/memory/entries/{e}/versions/1/restore", None),
            ("POST", f"/api/memory/entries/{e}/forget", {}),
            ("DELETE", f"/api/memory/entries/{e}", None),
            ("DELETE", f"/api/auth/tokens/{self.token_id}", None),
            ("DELETE", f"/api/auth/sessions/{self.auth_session_id}", None),
            ("POST", "/api/chat", {"content": "sneak in", "sessionId": s}),
        ]

    def tenant_objects(self) -> list[tuple[str, str, dict[str, Any] | None]]:
        """The tenant's shared objects; invisible from another tenant."""
        a, p = self.agent_id, self.provider_id
        return [
            ("GET", f"/api/agents/{a}", None),
            ("PATCH", f"/api/agents/{a}", {"description": "stolen"}),
            ("GET", f"/api/agents/{a}/tools", None),
            ("PUT", f"/api/agents/{a}/soul", {"content": "stolen"}),
            ("GET", f"/api/memory/agents/{a}/settings", None),
            ("PUT", f"/api/memory/agents/{a}/settings", {"extractionEnabled": False}),
            ("POST", f"/api/memory/agents/{a}/forget-all", {}),
            ("DELETE", f"/api/agents/{a}", None),
            ("GET", f"/api/models/providers/{p}", None),
            ("PATCH", f"/api/models/providers/{p}", {"name": "stolen"}),
            ("DELETE", f"/api/models/providers/{p}", None),
        ]


async def _created(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def owned(client: httpx.AsyncClient, admin: Caller) -> Owned:
    alice = await add_user(client, admin, "alice@example.com", roles=["Member"])
    chat = await _created(
        await client.post("/api/chat", headers=alice.headers, json={"content": "hello"}), 202
    )
    entry = await _created(
        await client.post(
            "/api/memory/entries", headers=alice.headers, json={"content": "Alice likes tea"}
        )
    )
    token = await _created(
        await client.post("/api/auth/tokens", headers=alice.headers, json={"name": "alice"})
    )
    sessions = await client.get("/api/auth/sessions", headers=alice.headers)
    assert sessions.status_code == 200, sessions.text
    listed = sessions.json()
    items = listed["items"] if isinstance(listed, dict) else listed
    agent = await _created(
        await client.post("/api/agents", headers=admin.headers, json={"name": "Shared"})
    )
    provider = await _created(
        await client.post(
            "/api/models/providers",
            headers=admin.headers,
            json={
                "name": "loopback",
                "type": "openai",
                "baseUrl": "http://127.0.0.1:9/v1",
                "apiKey": "sk-test-key",
                "models": [{"id": "gpt-test"}],
                "defaultModel": "gpt-test",
            },
        )
    )
    return Owned(
        alice,
        session_id=chat["sessionId"],
        task_id=chat["taskId"],
        entry_id=entry["id"],
        token_id=token["id"],
        auth_session_id=items[0]["id"],
        agent_id=agent["id"],
        provider_id=provider["id"],
    )


async def _assert_untouched(client: httpx.AsyncClient, admin: Caller, owned: Owned) -> None:
    """Nothing the refused calls tried was written: Alice and the tenant still see it all."""
    alice = owned.alice
    session = await client.get(f"/api/sessions/{owned.session_id}", headers=alice.headers)
    assert session.status_code == 200, session.text
    assert session.json()["title"] != "stolen"
    history = await client.get(f"/api/sessions/{owned.session_id}/messages", headers=alice.headers)
    assert [m["content"] for m in history.json()["items"]] == ["hello"]  # no message sneaked in
    entry = await client.get(f"/api/memory/entries/{owned.entry_id}", headers=alice.headers)
    assert entry.status_code == 200, entry.text
    assert entry.json()["content"] == "Alice likes tea"
    task = await client.get(f"/api/tasks/{owned.task_id}", headers=alice.headers)
    assert task.status_code == 200, task.text
    assert task.json()["status"] != "Cancelled"
    tokens = (await client.get("/api/auth/tokens", headers=alice.headers)).json()["items"]
    assert owned.token_id in {t["id"] for t in tokens}
    agent = await client.get(f"/api/agents/{owned.agent_id}", headers=admin.headers)
    assert agent.status_code == 200, agent.text
    assert agent.json()["description"] != "stolen"
    provider = await client.get(f"/api/models/providers/{owned.provider_id}", headers=admin.headers)
    assert provider.status_code == 200, provider.text
    assert provider.json()["name"] == "loopback"


async def test_another_users_objects_are_404(
    client: httpx.AsyncClient, admin: Caller, owned: Owned
) -> None:
    # a Member, who may use every one of these routes on his own objects (not a Viewer: it
    # holds ViewActiveTasks, which by design shows every task of the tenant)
    bob = await add_user(client, admin, "bob@example.com", roles=["Member"])
    for method, path, body in owned.private_reads_and_writes():
        response = await client.request(method, path, headers=bob.headers, json=body)
        assert_error(response, 404, "not_found")
    await _assert_untouched(client, admin, owned)


async def test_another_tenants_objects_are_404_and_its_tenant_403(
    client: httpx.AsyncClient, admin: Caller, owned: Owned
) -> None:
    tenant = await create_tenant(client, admin, OTHER)
    # an Admin of acme, who is a member of the default tenant with no roles
    intruder = await add_user(client, admin, "intruder@acme.example.com", roles=[])
    assert (await assign(client, admin, tenant["id"], intruder.email, ["Admin"])).is_success
    intruder.tenant = OTHER
    # a member of acme only, made there by its Admin
    stranger = await add_user(client, intruder, "stranger@acme.example.com", roles=["Admin"])
    every = owned.private_reads_and_writes() + owned.tenant_objects()
    for method, path, body in every:
        # with every permission in its own tenant, the other tenant's objects do not exist
        response = await client.request(method, path, headers=intruder.headers, json=body)
        assert_error(response, 404, "not_found")
    home = Caller(stranger.email, stranger.token, stranger.user, tenant=DEFAULT_TENANT_SLUG)
    for method, path, body in every:
        # naming a tenant one is not a member of is refused before anything is looked up
        response = await client.request(method, path, headers=home.headers, json=body)
        assert_error(response, 403, "not_authorized")
    await _assert_untouched(client, admin, owned)
