"""What a tool call sees (`ToolContext`), what it returns (`ToolResult`), and the argument check
that runs before any handler: one Pydantic model per built-in tool, exported as its JSON Schema."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError
from pydantic.alias_generators import to_camel

from sophon.platform.db import Database
from sophon.platform.errors import ValidationFailed
from sophon.platform.netguard import split_allow_setting
from sophon.settings import Settings
from sophon.tools.registry import RiskLevel, Tool, ToolSource

if TYPE_CHECKING:
    import httpx

    from sophon.platform.vault import Vault
    from sophon.providers.connect import ProviderRuntime


class OutboundClientFactory(Protocol):
    """Builds the SSRF-guarded client a tool fetches with (tests inject loopback spies)."""

    def __call__(self, *, max_response_bytes: int, total_timeout: float) -> httpx.AsyncClient: ...


def settings_client_factory(settings: Settings) -> OutboundClientFactory:
    """The guarded client with the Gateway's outbound allow-list (`SOPHON_OUTBOUND_ALLOW`)."""
    allow = split_allow_setting(settings.outbound_allow)

    def make(*, max_response_bytes: int, total_timeout: float) -> httpx.AsyncClient:
        import httpx  # the HTTP client loads on the first fetch, not at start-up

        from sophon.platform.http import outbound_client

        return outbound_client(
            allow=allow,
            timeout=httpx.Timeout(total_timeout),
            total_timeout=total_timeout,
            max_response_bytes=max_response_bytes,
        )

    return make


@dataclass(frozen=True)
class ToolContext:
    """Built by the agent runtime for one call. `deadline` is a `time.monotonic()` instant after
    which the call is abandoned; tools bound their own waits by `remaining()`."""

    settings: Settings
    principal_id: str | None = None
    tenant_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None
    deadline: float | None = None
    http_client: OutboundClientFactory | None = None
    database: Database | None = None
    """For tools that read or write Gateway data: open `database.transaction(tenant_id=...)`."""
    vault: Vault | None = None
    model_runtime: ProviderRuntime | None = None
    """For tools that ask the tenant's model (document summaries and questions)."""

    @property
    def outbound(self) -> OutboundClientFactory:
        return self.http_client or settings_client_factory(self.settings)

    def remaining(self) -> float | None:
        """Seconds left before the deadline (never negative), or None without one."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def bounded(self, seconds: float) -> float:
        """`seconds`, shortened to what is left before the deadline."""
        left = self.remaining()
        return seconds if left is None else min(seconds, left)


@dataclass(frozen=True)
class ToolResult:
    """`content` is what the model sees; `data` the same, structured, for clients and logs."""

    content: str
    data: Mapping[str, Any] | None = None
    is_error: bool = False

    @classmethod
    def error(cls, message: str, data: Mapping[str, Any] | None = None) -> ToolResult:
        return cls(content=message, data=data, is_error=True)


class InvalidToolArguments(ValidationFailed):
    code = "invalid_tool_arguments"
    default_message = "The tool arguments failed validation."


class ToolArguments(BaseModel):
    """Base of every built-in tool's arguments: camelCase names, no unknown keys, no coercion."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", strict=True)


ArgsT = TypeVar("ArgsT", bound=ToolArguments)


@dataclass(frozen=True)
class TypedHandler(Generic[ArgsT]):
    """A handler whose arguments are parsed into `model` before `run` sees them."""

    model: type[ArgsT]
    run: Callable[[ToolContext, ArgsT], Awaitable[ToolResult]]
    tool_name: str = field(default="")

    async def __call__(self, context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        return await self.run(context, parse_arguments(self.tool_name, self.model, arguments))


def builtin_tool(
    name: str,
    description: str,
    risk: RiskLevel,
    model: type[ArgsT],
    run: Callable[[ToolContext, ArgsT], Awaitable[ToolResult]],
    *,
    unavailable: Callable[[], str | None] | None = None,
    editable_at_approval: bool = False,
    result_source: str | None = None,
) -> Tool:
    """A built-in `Tool` whose JSON Schema is its arguments model's."""
    return Tool(
        name=name,
        description=description,
        parameters=model.model_json_schema(),
        risk=risk,
        handler=TypedHandler(model, run, name),
        source=ToolSource.BUILTIN,
        editable_at_approval=editable_at_approval,
        unavailable=unavailable or (lambda: None),
        result_source=result_source,
    )


def parse_arguments(tool_name: str, model: type[ArgsT], arguments: Any) -> ArgsT:
    try:
        return model.model_validate(arguments)
    except PydanticValidationError as exc:
        problems = [
            {
                "path": ".".join(str(part) for part in error["loc"]) or "(arguments)",
                "message": error["msg"],
            }
            for error in exc.errors()
        ]
        raise _invalid(tool_name, problems) from None


def validate_arguments(tool: Tool, arguments: Any) -> dict[str, Any]:
    """The arguments, checked against the tool's schema (defaults filled in for built-ins).
    Raises InvalidToolArguments naming every problem."""
    if isinstance(tool.handler, TypedHandler):
        parsed: ToolArguments = parse_arguments(tool.name, tool.handler.model, arguments)
        return parsed.model_dump(by_alias=True)
    problems = _schema_problems(tool.parameters, arguments)
    if problems:
        raise _invalid(tool.name, problems)
    return dict(arguments)


async def run_tool(tool: Tool, context: ToolContext, arguments: Any) -> ToolResult:
    """Check availability and arguments, then run the handler within the context's deadline.
    Every failure the model can react to comes back as an error result."""
    reason = await asyncio.to_thread(tool.unavailable)
    if reason:
        return ToolResult.error(f"{tool.name} is unavailable: {reason}")
    try:
        checked = validate_arguments(tool, arguments)
    except InvalidToolArguments as exc:
        return ToolResult.error(exc.message, exc.details)
    try:
        async with asyncio.timeout(context.remaining()):
            result = await tool.handler(context, checked)
    except TimeoutError:
        return ToolResult.error(f"{tool.name} did not finish before the call's deadline.")
    return result if isinstance(result, ToolResult) else ToolResult(content=str(result))


def _invalid(tool_name: str, problems: list[dict[str, str]]) -> InvalidToolArguments:
    listed = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
    return InvalidToolArguments(
        f"Invalid arguments for {tool_name}: {listed}.", {"tool": tool_name, "errors": problems}
    )


_JSON_TYPES: Mapping[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def _schema_problems(schema: Mapping[str, Any], arguments: Any) -> list[dict[str, str]]:
    """A shallow check for tools that bring only a JSON Schema (skills, MCP): an object, the
    required keys, no unknown keys when the schema forbids them, and top-level types."""
    if not isinstance(arguments, dict):
        return [{"path": "(arguments)", "message": "Input should be an object"}]
    problems = [
        {"path": key, "message": "Field required"}
        for key in schema.get("required", [])
        if key not in arguments
    ]
    properties: Mapping[str, Any] = schema.get("properties", {})
    for key, value in arguments.items():
        spec = properties.get(key)
        if spec is None:
            if schema.get("additionalProperties") is False:
                problems.append({"path": key, "message": "Extra inputs are not permitted"})
            continue
        expected = spec.get("type")
        names = [expected] if isinstance(expected, str) else list(expected or [])
        allowed = tuple(t for name in names for t in _JSON_TYPES.get(name, ()))
        wrong_bool = isinstance(value, bool) and bool not in allowed
        if allowed and (not isinstance(value, allowed) or wrong_bool):
            problems.append({"path": key, "message": f"Input should be of type {expected}"})
    return problems
