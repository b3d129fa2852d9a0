"""The Hub base: a hub names itself, the bus events it forwards and to whom, and its methods.

    class NotificationsHub(Hub):
        name = "notifications"
        forwards = frozenset({EventName.NOTIFICATION})

    class ChatHub(Hub):
        ...
        requires = (Permission.USE_CHAT,)

        @hub_method("JoinSession")
        async def join_session(self, conn: Connection, session_id: str) -> None: ...

A hub names the permissions of which a caller needs one to connect (`requires`; none: any
member) and a method those it needs on top (`hub_method(..., requires=...)`), as REST routes
declare theirs. Methods take the connection, then the invocation's arguments; their result
becomes the completion. A `DomainError` becomes a completion error with its message."""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.identity import guard
from sophon.platform.errors import DomainError, RateLimited
from sophon.platform.events import Event
from sophon.platform.permissions import Permission
from sophon.platform.principal import Principal
from sophon.platform.throttle import RateCategory, policy_for
from sophon.realtime import protocol
from sophon.realtime.connection import Connection
from sophon.realtime.protocol import MessageType
from sophon.realtime.registry import Registry

if TYPE_CHECKING:
    from sophon.gateway import Gateway

log = logging.getLogger("sophon.realtime")

F = TypeVar("F", bound=Callable[..., Any])
_METHOD_ATTR = "__sophon_hub_method__"


def hub_method(name: str, *, requires: tuple[Permission, ...] = ()) -> Callable[[F], F]:
    """Exposes a coroutine (a completion) or an async generator (a stream) as hub method
    `name`; clients call it case-insensitively, as with ASP.NET SignalR. Calling it needs every
    one of `requires`."""

    def mark(function: F) -> F:
        setattr(function, _METHOD_ATTR, (name, tuple(p.value for p in requires)))
        return function

    return mark


class _Method:
    def __init__(self, name: str, function: Callable[..., Any], requires: tuple[str, ...]) -> None:
        self.name = name
        self.function = function
        self.requires = requires
        self.streams = inspect.isasyncgenfunction(function)
        params = list(inspect.signature(function).parameters.values())[2:]  # self, conn
        self.most = len(params)
        self.least = sum(1 for p in params if p.default is inspect.Parameter.empty)

    def arity_error(self, given: int) -> str | None:
        if self.least <= given <= self.most:
            return None
        expected = str(self.most) if self.least == self.most else f"{self.least}-{self.most}"
        return f"Invocation provides {given} argument(s) but '{self.name}' expects {expected}."


class Hub:
    name: ClassVar[str]
    forwards: ClassVar[frozenset[str]] = frozenset()
    privileged: ClassVar[str | None] = None
    """A permission whose holders get every forwarded event of their tenant."""
    requires: ClassVar[tuple[Permission, ...]] = ()
    """Connecting needs one of these (none named: any member, for the caller's own notices)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.registry = Registry((self.privileged,) if self.privileged else ())
        self._methods: dict[str, _Method] = {}
        for attr in dir(type(self)):
            function = getattr(type(self), attr)
            declared = getattr(function, _METHOD_ATTR, None)
            if declared is not None:
                name, requires = declared
                self._methods[name.lower()] = _Method(name, function, requires)

    def admit(self, principal: Principal) -> None:
        """403 `not_authorized` unless the principal may connect to this hub."""
        guard.check(principal, (), (p.value for p in self.requires))

    # --- lifecycle hooks ----------------------------------------------------------------

    def connected(self, conn: Connection) -> None:
        self.registry.add(conn)

    def disconnected(self, conn: Connection) -> None:
        self.registry.remove(conn)

    # --- who gets an event --------------------------------------------------------------

    def recipients(self, event: Event) -> Iterable[Connection]:
        """By default the event's audience decides (see `Event.visible_to`)."""
        if event.tenant_id is None:
            return ()
        audience = event.audience
        if audience.user_ids:
            candidates = self.registry.users(event.tenant_id, audience.user_ids)
        elif audience.session_id is not None:
            candidates = self.registry.group(event.tenant_id, audience.session_id)
        else:
            candidates = self.registry.tenant(event.tenant_id)
        return [c for c in candidates if event.visible_to(c.viewer())]

    def owner_or_privileged(self, event: Event) -> Iterable[Connection]:
        """The event's users, and holders of `privileged` in its tenant (tasks, approvals)."""
        if event.tenant_id is None:
            return ()
        found = set(self.registry.users(event.tenant_id, event.audience.user_ids))
        if self.privileged is not None:
            found.update(self.registry.holders(event.tenant_id, self.privileged))
        return found

    # --- helpers for methods ------------------------------------------------------------

    @asynccontextmanager
    async def transaction(
        self, conn: Connection, *, readonly: bool = False
    ) -> AsyncIterator[AsyncSession]:
        """One unit of work in the connection's tenant (a read transaction when `readonly`)."""
        async with self.gateway.db.transaction(tenant_id=conn.tenant_id, readonly=readonly) as db:
            yield db

    async def limit(self, conn: Connection, category: RateCategory) -> None:
        """The REST rate limit of that category, sharing the caller's bucket."""
        if not self.gateway.settings.rate_limits_enabled:
            return
        policy = policy_for(self.gateway.settings, category)
        decision = await self.gateway.limiter.hit(
            f"{conn.principal.rate_key}:{category.value}", policy
        )
        if not decision.allowed:
            raise RateLimited(f"Rate limit for {category.value} requests exceeded; retry later.")

    # --- dispatch -----------------------------------------------------------------------

    async def invoke(self, conn: Connection, call: protocol.Invocation) -> None:
        reply = call.invocation_id
        method = self._resolve(conn, call, streaming=False)
        if method is None:
            return
        error: str | None = None
        try:
            guard.check(conn.principal, method.requires)
            result = await method.function(self, conn, *call.arguments)
        except (DomainError, ValidationError) as exc:
            error = _refusal(method, exc)
        except Exception:  # a bug: logged, and the client gets a generic error
            log.exception("hub %s method %s failed", self.name, method.name)
            error = _unexpected(method)
        if reply is None:
            return
        if error is not None:
            conn.send(protocol.completion(reply, error=error))
        else:
            conn.send(protocol.completion(reply, result=_jsonable(result)))

    async def stream(self, conn: Connection, call: protocol.Invocation) -> None:
        reply = call.invocation_id
        assert reply is not None
        method = self._resolve(conn, call, streaming=True)
        if method is None:
            return
        error: str | None = None
        try:
            guard.check(conn.principal, method.requires)
            async for item in method.function(self, conn, *call.arguments):
                conn.send(protocol.stream_item(reply, _jsonable(item)))
        except (DomainError, ValidationError) as exc:
            error = _refusal(method, exc)
        except Exception:  # as in invoke
            log.exception("hub %s stream %s failed", self.name, method.name)
            error = _unexpected(method)
        conn.send(protocol.completion(reply, error=error))

    def _resolve(
        self, conn: Connection, call: protocol.Invocation, *, streaming: bool
    ) -> _Method | None:
        method = self._methods.get(call.target.lower())
        problem: str | None = None
        if method is None:
            problem = f"Unknown hub method '{call.target}'"
        elif method.streams and not streaming:
            problem = (
                f"The client attempted to invoke the streaming '{method.name}' method with a "
                "non-streaming invocation."
            )
        elif streaming and not method.streams:
            problem = (
                f"The client attempted to invoke the non-streaming '{method.name}' method with "
                "a streaming invocation."
            )
        else:
            problem = method.arity_error(len(call.arguments))
        if problem is None:
            return method
        if call.invocation_id is not None:
            conn.send(
                protocol.completion(
                    call.invocation_id, error=f"Failed to invoke '{call.target}'. {problem}"
                )
            )
        elif call.type is MessageType.INVOCATION:
            log.info("hub %s: dropped invocation of %s: %s", self.name, call.target, problem)
        return None


def _refusal(method: _Method, exc: DomainError | ValidationError) -> str:
    if isinstance(exc, DomainError):
        return exc.message
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "arguments"
    return f"Invalid arguments for '{method.name}': {where}: {first['msg']}"


def _unexpected(method: _Method) -> str:
    return f"An unexpected error occurred invoking '{method.name}' on the server."


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    return value
