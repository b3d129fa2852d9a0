"""The skill manifest: its JSON Schema (served at /api/skills/manifest-schema), SKILL.md front
matter, and the check that turns a package's files into a validated `Manifest`. A package with only
a SKILL.md (the Agent Skills format) is an instruction-only skill."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from sophon.platform.errors import ValidationFailed

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

SKILL_MD = "SKILL.md"
MANIFEST = "manifest.json"
NAME_RE = r"^[a-z0-9]+([._-][a-z0-9]+)*$"
TOOL_RE = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
SEMVER_RE = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
HOST_RE = r"^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$"
MAX_TOOL_SECONDS = 300
DEFAULT_SANDBOX: Mapping[str, Any] = {
    "network": "none",
    "memoryMb": 256,
    "cpuSeconds": 10,
    "timeoutSeconds": 30,
}

MANIFEST_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://sophon.local/schemas/skill-manifest.json",
    "title": "Sophon skill manifest (manifest.json)",
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "version", "description"],
    "properties": {
        "name": {"type": "string", "pattern": NAME_RE, "maxLength": 64},
        "version": {"type": "string", "pattern": SEMVER_RE, "maxLength": 64},
        "description": {"type": "string", "minLength": 1, "maxLength": 1024},
        "license": {"type": "string", "maxLength": 200},
        "entrypoint": {
            "type": "string",
            "pattern": r"^[A-Za-z0-9_][A-Za-z0-9_./-]*\.py$",
            "maxLength": 200,
            "default": "main.py",
        },
        "tools": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "description", "parameters", "risk"],
                "properties": {
                    "name": {"type": "string", "pattern": TOOL_RE, "maxLength": 100},
                    "description": {"type": "string", "minLength": 1, "maxLength": 2000},
                    "parameters": {"type": "object"},
                    "risk": {"enum": ["None", "Low", "Medium", "High", "Critical"]},
                    "timeoutSeconds": {
                        "type": "number",
                        "exclusiveMinimum": 0,
                        "maximum": MAX_TOOL_SECONDS,
                    },
                },
            },
        },
        "credentials": {
            "type": "array",
            "maxItems": 20,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9_]{0,63}$"},
                    "description": {"type": "string", "maxLength": 500},
                },
            },
        },
        "sandbox": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "network": {
                    "oneOf": [
                        {"const": "none"},
                        {
                            "type": "array",
                            "maxItems": 20,
                            "items": {"type": "string", "pattern": HOST_RE, "maxLength": 253},
                        },
                    ]
                },
                "memoryMb": {"type": "integer", "minimum": 32, "maximum": 2048},
                "cpuSeconds": {"type": "integer", "minimum": 1, "maximum": 300},
                "timeoutSeconds": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": MAX_TOOL_SECONDS,
                },
            },
        },
    },
}
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(\n|\Z)", re.DOTALL)


class InvalidManifest(ValidationFailed):
    code = "validation_failed"
    default_message = "The skill package is invalid."


@dataclass(frozen=True)
class ToolDecl:
    name: str
    description: str
    parameters: dict[str, Any]
    risk: str
    timeout_seconds: float | None


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    description: str
    entrypoint: str | None
    tools: tuple[ToolDecl, ...]
    credentials: tuple[str, ...]
    network: tuple[str, ...]  # host allowlist; empty: no network
    memory_mb: int
    cpu_seconds: int
    timeout_seconds: float
    raw: dict[str, Any]
    instructions: str  # SKILL.md body


@cache
def _validator() -> Draft202012Validator:
    """The manifest schema's validator; jsonschema loads on the first parse, not at start-up."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(MANIFEST_SCHEMA)


def failure(message: str, path: str, **details: Any) -> InvalidManifest:
    return InvalidManifest(message, {"path": path, **details})


def front_matter(text: str) -> tuple[dict[str, Any], str]:
    """SKILL.md's YAML front matter and its body."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise failure("SKILL.md must start with YAML front matter (---).", SKILL_MD)
    import yaml  # loads on the first parse, not at start-up

    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise failure(f"SKILL.md front matter is not valid YAML: {exc}", SKILL_MD) from None
    if not isinstance(meta, dict):
        raise failure("SKILL.md front matter must be a mapping.", SKILL_MD)
    return meta, text[match.end() :]


def parse(files: Mapping[str, bytes]) -> Manifest:
    """The package's manifest, validated; raises InvalidManifest (422) naming the JSON path."""
    if SKILL_MD not in files:
        raise failure("A skill package needs a SKILL.md at its root.", SKILL_MD)
    try:
        meta, body = front_matter(files[SKILL_MD].decode("utf-8"))
    except UnicodeDecodeError:
        raise failure("SKILL.md is not UTF-8 text.", SKILL_MD) from None
    if MANIFEST in files:
        try:
            raw = json.loads(files[MANIFEST])
        except (ValueError, UnicodeDecodeError) as exc:
            raise failure(f"manifest.json is not valid JSON: {exc}", MANIFEST) from None
    else:
        raw = {k: meta[k] for k in ("name", "version", "description", "license") if k in meta}
        raw.setdefault("version", "0.0.0")
        for key in ("version", "name"):
            if key in raw and not isinstance(raw[key], str):
                raw[key] = str(raw[key])
    _check_schema(raw)
    for key in ("name", "version"):
        if key in meta and str(meta[key]) != raw[key]:
            raise failure(
                f"SKILL.md says {key} {meta[key]!r} but manifest.json says {raw[key]!r}.",
                f"$.{key}",
            )
    tools = tuple(_tool(index, item) for index, item in enumerate(raw.get("tools", [])))
    names = [t.name for t in tools]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise failure(f"The tool {duplicate} is declared twice.", "$.tools", tool=duplicate)
    entrypoint = raw.get("entrypoint", "main.py") if tools else raw.get("entrypoint")
    if entrypoint is not None and tools and entrypoint not in files:
        raise failure(f"The entrypoint {entrypoint} is not in the package.", "$.entrypoint")
    sandbox = {**DEFAULT_SANDBOX, **raw.get("sandbox", {})}
    network = sandbox["network"]
    return Manifest(
        name=raw["name"],
        version=raw["version"],
        description=raw["description"],
        entrypoint=entrypoint if tools else None,
        tools=tools,
        credentials=tuple(c["name"] for c in raw.get("credentials", [])),
        network=() if network == "none" else tuple(h.lower() for h in network),
        memory_mb=int(sandbox["memoryMb"]),
        cpu_seconds=int(sandbox["cpuSeconds"]),
        timeout_seconds=float(sandbox["timeoutSeconds"]),
        raw=raw,
        instructions=body,
    )


def _check_schema(raw: Any) -> None:
    errors = sorted(_validator().iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        problems = [{"path": e.json_path, "message": e.message} for e in errors[:20]]
        raise InvalidManifest(
            f"The manifest fails its schema at {first.json_path}: {first.message}",
            {"path": first.json_path, "errors": problems},
        )


def _tool(index: int, item: dict[str, Any]) -> ToolDecl:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    parameters = item["parameters"]
    try:
        Draft202012Validator.check_schema(parameters)
    except SchemaError as exc:
        raise failure(
            f"tools[{index}].parameters is not a valid JSON Schema: {exc.message}",
            f"$.tools[{index}].parameters",
        ) from None
    if parameters.get("type", "object") != "object":
        raise failure(
            "A tool's parameters must describe an object.", f"$.tools[{index}].parameters.type"
        )
    return ToolDecl(
        name=item["name"],
        description=item["description"],
        parameters={"type": "object", **parameters},
        risk=item["risk"],
        timeout_seconds=item.get("timeoutSeconds"),
    )
