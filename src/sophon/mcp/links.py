"""One live connection to an external MCP server (`Link`): connect, initialize, list tools, keep
the bridged tools current on `notifications/tools/list_changed`, notice a server that went away
and reconnect with backoff (its tools show as unavailable meanwhile), and make calls that are
cancelled (MCP cancellation) past the registration's timeout. Each link lives in a task of its
own, so one server's failure never blocks another's tools or the event loop. Resources and
prompts are listed too, and listed again on `notifications/resources/list_changed` and
`notifications/prompts/list_changed`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types
from mcp.client.session import ClientSession, IncomingMessage
from mcp.shared.exceptions import MCPError
from mcp_types import REQUEST_TIMEOUT

from sophon.mcp import bridge
from sophon.mcp.spec import ServerSpec, open_streams
from sophon.platform.http import Resolver, system_resolver
from sophon.platform.netguard import OutboundPolicy
from sophon.tools.invoke import ToolResult
from sophon.tools.registry import RiskLevel, Tool, ToolSource

log = logging.getLogger("sophon.mcp")

CONNECT_TIMEOUT = 20.0
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0


@dataclass
class Found:
    """What a server offers, as last listed."""

    tools: list[types.Tool] = field(default_factory=list)
    resources: int = 0
    prompts: int = 0
    resource_uris: list[str] = field(default_factory=list)
    prompt_names: list[str] = field(default_factory=list)
    server_name: str | None = None
    server_version: str | None = None
    protocol_version: str | None = None


async def _list_all(session: ClientSession) -> list[types.Tool]:
    tools: list[types.Tool] = []
    cursor: str | None = None
    for _ in range(100):  # a paginator that never ends cannot hang the link
        page = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor))
        tools += page.tools
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


async def _count(call: Callable[[], Awaitable[Any]], attr: str) -> int:
    return len(await _names(call, attr, "name"))


async def _names(call: Callable[[], Awaitable[Any]], attr: str, key: str) -> list[str]:
    """The `key` of each item the list call answers (first page); none if it fails."""
    try:
        result = await call()
    except MCPError:
        return []
    return [str(getattr(item, key)) for item in getattr(result, attr)]


async def probe(
    spec: ServerSpec, policy: OutboundPolicy, resolver: Resolver = system_resolver
) -> Found:
    """Connects once: initialize, then tools, resources and prompts (the `test` endpoint)."""
    async with asyncio.timeout(spec.timeout_seconds + CONNECT_TIMEOUT):
        async with (
            open_streams(spec, policy, resolver) as (read, write),
            ClientSession(read, write) as s,
        ):
            init = await s.initialize()
            caps = init.capabilities
            found = Found(
                tools=await _list_all(s) if caps.tools is not None else [],
                server_name=init.server_info.name,
                server_version=init.server_info.version,
                protocol_version=init.protocol_version,
            )
            if caps.resources is not None:
                found.resources = await _count(s.list_resources, "resources")
            if caps.prompts is not None:
                found.prompts = await _count(s.list_prompts, "prompts")
            return found


class Link:
    """State: `connecting`, `connected`, `disconnected` (retrying), `stopped`."""

    def __init__(
        self,
        spec: ServerSpec,
        policy: OutboundPolicy,
        on_tools: Callable[[Link, list[types.Tool]], Awaitable[None]],
        on_event: Callable[[Link, str, dict[str, Any]], Awaitable[None]] | None = None,
        *,
        ping_seconds: float = 10.0,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.spec = spec
        self.policy = policy
        self.resolver = resolver
        self.on_tools = on_tools
        self.on_event = on_event
        self.ping_seconds = ping_seconds
        self.state = "connecting"
        self.error: str | None = None
        self.found = Found()
        self.changed: set[str] = set()
        """Tools whose definition differs from the approved one: disabled until re-approved."""
        self.problems: dict[str, str] = {}
        """Tools that can't be bridged (a name too long, a collision), by tool name."""
        self.connects = 0
        self._session: ClientSession | None = None
        self._wake = asyncio.Event()
        self._refresh = asyncio.Event()
        self._stale: set[str] = set()
        """What a list_changed notification asked to list again: tools, resources, prompts."""
        self._caps: types.ServerCapabilities | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"mcp-link-{self.spec.name}")

    async def stop(self) -> None:
        self._stopping = True
        self.state = "stopped"
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    # --- the connection loop -------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = BACKOFF_FIRST
        while not self._stopping:
            try:
                await self._connected_once()
                backoff = BACKOFF_FIRST
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 (any failure of a foreign server: retry)
                self.error = describe(exc)
                log.warning("mcp server %s: %s", self.spec.name, self.error)
            finally:
                was_connected = self._session is not None
                self._session = None
            if was_connected and not self._stopping:
                await self._emit("mcp.server.disconnect", {"error": self.error})
            if self._stopping:
                return
            self.state = "disconnected"
            try:
                async with asyncio.timeout(backoff):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _connected_once(self) -> None:
        self.state = "connecting"
        async with open_streams(self.spec, self.policy, self.resolver) as (read, write):
            session = ClientSession(read, write, message_handler=self._on_message)
            async with session:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    init = await session.initialize()
                    self.found.server_name = init.server_info.name
                    self.found.server_version = init.server_info.version
                    self.found.protocol_version = init.protocol_version
                    self._caps = init.capabilities
                    await self._relist(session, {"tools", "resources", "prompts"})
                self._session = session
                self.state, self.error = "connected", None
                self.connects += 1
                await self._emit(
                    "mcp.server.connect",
                    {"serverName": self.found.server_name,
                     "protocolVersion": self.found.protocol_version},
                )  # fmt: skip
                await self._watch(session)

    async def _watch(self, session: ClientSession) -> None:
        """Until the link stops or the server goes away: relist on `list_changed`, ping when
        quiet (a server that exited fails the ping)."""
        while not self._stopping:
            try:
                async with asyncio.timeout(self.ping_seconds):
                    await self._refresh.wait()
            except TimeoutError:
                async with asyncio.timeout(self.spec.timeout_seconds):
                    await session.send_ping()
                continue
            self._refresh.clear()
            stale, self._stale = self._stale, set()
            async with asyncio.timeout(self.spec.timeout_seconds):
                await self._relist(session, stale)

    async def _relist(self, session: ClientSession, what: set[str]) -> None:
        caps = self._caps
        if "resources" in what and caps is not None and caps.resources is not None:
            uris = await _names(session.list_resources, "resources", "uri")
            self.found.resource_uris, self.found.resources = uris, len(uris)
        if "prompts" in what and caps is not None and caps.prompts is not None:
            names = await _names(session.list_prompts, "prompts", "name")
            self.found.prompt_names, self.found.prompts = names, len(names)
        if "tools" in what:
            tools = await _list_all(session)
            self.found.tools = tools
            await self.on_tools(self, tools)

    async def _on_message(self, message: IncomingMessage) -> None:
        stale = _STALE.get(type(message))
        if stale is not None:
            self._stale.add(stale)
            self._refresh.set()
        elif isinstance(message, Exception):
            log.info("mcp server %s: transport error %s", self.spec.name, message)

    # --- calls ---------------------------------------------------------------------------------

    def unavailable(self, tool: str) -> str | None:
        if tool in self.changed:
            return (
                "its definition changed since it was approved; a person must re-approve "
                "the MCP server's tools"
            )
        if self.state != "connected" or self._session is None:
            why = f": {self.error}" if self.error else ""
            return f"the MCP server '{self.spec.name}' is not connected ({self.state}{why})"
        return None

    async def _emit(self, action: str, details: dict[str, Any]) -> None:
        if self.on_event is None:
            return
        try:
            await self.on_event(self, action, details)
        except Exception:
            log.exception("mcp server %s: recording %s failed", self.spec.name, action)

    async def call(
        self,
        tool: str,
        arguments: dict[str, Any],
        deadline: float | None,
        *,
        user_id: str | None = None,
    ) -> ToolResult:
        """Calls the tool (within the registration's timeout and `deadline`); audited with the
        user the call runs for."""
        started = time.monotonic()
        result = await self._call(tool, arguments, deadline)
        details = {"tool": bridge.bridged_name(self.spec.name, tool), "ok": not result.is_error,
                   "durationMs": int((time.monotonic() - started) * 1000)}  # fmt: skip
        await self._emit("mcp.tool.call", {**details, "userId": user_id})
        return result

    async def _call(
        self, tool: str, arguments: dict[str, Any], deadline: float | None
    ) -> ToolResult:
        reason = self.unavailable(tool)
        session = self._session
        if reason is not None or session is None:
            return ToolResult.error(
                f"{bridge.bridged_name(self.spec.name, tool)} is unavailable: {reason}"
            )
        timeout = self.spec.timeout_seconds
        if deadline is not None:
            timeout = max(0.001, min(timeout, deadline - time.monotonic()))
        try:
            result = await session.call_tool(tool, arguments, read_timeout_seconds=timeout)
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                return ToolResult.error(
                    f"{bridge.bridged_name(self.spec.name, tool)} timed out after "
                    f"{timeout:g} s; the call was cancelled."
                )
            if "closed" in exc.error.message.lower():
                self._wake.set()
            return ToolResult.error(f"The MCP server answered with an error: {exc.error.message}")
        text, structured = bridge.result_text(result)
        return ToolResult(content=text, data=structured, is_error=bool(result.is_error))

    def catalog_tool(self, tool: types.Tool) -> Tool:
        name = tool.name

        async def handler(context: Any, arguments: dict[str, Any]) -> ToolResult:
            return await self.call(
                name,
                arguments,
                getattr(context, "deadline", None),
                user_id=getattr(context, "principal_id", None),
            )

        return Tool(
            name=bridge.bridged_name(self.spec.name, name),
            description=tool.description or tool.title or name,
            parameters=bridge.schema_of(tool),
            risk=bridge.risk_of(tool, self.spec.risk_overrides),
            handler=handler,
            source=ToolSource.MCP,
            unavailable=lambda: self.unavailable(name),
        )


def describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        inner = exc.exceptions[0] if exc.exceptions else exc
        return describe(inner)
    if isinstance(exc, MCPError):
        return exc.error.message
    text = str(exc) or type(exc).__name__
    return text[:500]


RISK_NAMES = [r.value for r in RiskLevel]
_STALE: dict[type, str] = {
    types.ToolListChangedNotification: "tools",
    types.ResourceListChangedNotification: "resources",
    types.PromptListChangedNotification: "prompts",
}
