"""From an MCP server's tool definitions to catalog tools: names (`mcp.<server>.<tool>`), risk
from the tool's annotations, the definition hash the rug-pull defence pins, and results turned
into the text the model sees (text parts and structured content both)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sophon.tools.registry import BRIDGED_PATTERN, MAX_NAME, RiskLevel

if TYPE_CHECKING:  # the SDK's types load with the first link (see `links`), not at start-up
    import mcp_types as types
    from mcp_types import CallToolResult

PREFIX = "mcp"


def bridged_name(server: str, tool: str) -> str:
    return f"{PREFIX}.{server}.{tool}"


def name_problem(server: str, tool: str) -> str | None:
    """Why a server's tool can't be bridged under its name, or None."""
    name = bridged_name(server, tool)
    if len(name) > MAX_NAME:
        return f"{name} is longer than {MAX_NAME} characters"
    if not BRIDGED_PATTERN.match(name):
        return f"{tool!r} has characters MCP tool names may not use"
    return None


def definition_hash(tool: types.Tool) -> str:
    """SHA-256 of what the model is told about the tool: its description and input schema."""
    body = {"description": tool.description or "", "inputSchema": tool.input_schema}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def risk_of(tool: types.Tool, overrides: Mapping[str, str]) -> RiskLevel:
    """The registration's override for the tool, else from its annotations: `readOnlyHint` ->
    Low, `destructiveHint` -> High, neither -> Medium."""
    if tool.name in overrides:
        return RiskLevel(overrides[tool.name])
    hints = tool.annotations
    if hints is not None and hints.read_only_hint:
        return RiskLevel.LOW
    if hints is not None and hints.destructive_hint:
        return RiskLevel.HIGH
    return RiskLevel.MEDIUM


def schema_of(tool: types.Tool) -> dict[str, Any]:
    schema = dict(tool.input_schema or {})
    schema.setdefault("type", "object")
    return schema


def result_text(result: CallToolResult) -> tuple[str, dict[str, Any] | None]:
    """The text of a call's result (each content block; non-text blocks described) and its
    structured content, which is appended as JSON when the text does not already carry it."""
    import mcp_types as types  # a result exists only once a link has loaded the SDK

    parts: list[str] = []
    for block in result.content:
        if isinstance(block, types.TextContent):
            parts.append(block.text)
        elif isinstance(block, types.EmbeddedResource):
            resource = block.resource
            text = getattr(resource, "text", None)
            parts.append(text if isinstance(text, str) else f"[resource {resource.uri}]")
        elif isinstance(block, types.ResourceLink):
            parts.append(f"[resource link {block.uri}]")
        else:
            parts.append(f"[{block.type} content, {getattr(block, 'mime_type', '')}]")
    structured = result.structured_content
    text = "\n".join(parts)
    if structured is not None:
        encoded = json.dumps(structured, default=str)
        if encoded not in text:
            text = f"{text}\n{encoded}" if text else encoded
    return text, structured
