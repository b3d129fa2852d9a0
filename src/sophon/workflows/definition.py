"""The definition JSON and its validation: one trigger, known node types with valid configs,
edges between existing nodes with labels their source can produce, no cycles, parseable
expressions. Every problem is reported with the node and the field it is about (422)."""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from jsonschema import Draft202012Validator

from sophon.platform.errors import PayloadTooLarge, ValidationFailed
from sophon.tools.registry import RiskLevel, ToolRegistry
from sophon.workflows import expressions
from sophon.workflows.nodetypes import INLINE_TYPES, NODE_FIELDS, NODE_TYPES

NODE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
TRIGGER_TYPES = ("manual", "cron", "webhook", "event", "agent")
ERROR_LABEL = "error"
_VALIDATORS = {name: Draft202012Validator(t.schema) for name, t in NODE_TYPES.items()}
_FIELD_VALIDATORS = {name: Draft202012Validator(s) for name, s in NODE_FIELDS.items()}
_RISKS = [r.value for r in RiskLevel]


@dataclass
class Limits:
    max_nodes: int = 200
    max_bytes: int = 256 * 1024


@dataclass
class Problems:
    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, message: str, node: str | None = None, field_: str | None = None) -> None:
        self.items.append({"node": node, "field": field_, "message": message})

    def raise_if_any(self) -> None:
        if not self.items:
            return
        first = self.items[0]
        where = f"node {first['node']}, " if first["node"] else ""
        where += f"{first['field']}: " if first["field"] else ""
        raise ValidationFailed(
            f"Invalid workflow: {where}{first['message']}",
            {"node": first["node"], "field": first["field"], "problems": self.items},
        )


@dataclass(frozen=True)
class Checked:
    definition: dict[str, Any]
    risk: str


def max_risk(*risks: str) -> str:
    ranked = [r for r in risks if r in _RISKS]
    return max(ranked, key=_RISKS.index) if ranked else RiskLevel.NONE.value


def validate(raw: Any, tools: ToolRegistry, limits: Limits) -> Checked:
    """The normalised definition and its risk, or ValidationFailed naming node and field."""
    size = len(json.dumps(raw, default=str).encode())
    if size > limits.max_bytes:
        raise PayloadTooLarge(
            f"The definition is {size} bytes; the limit is {limits.max_bytes}.",
            {"limit": limits.max_bytes, "size": size},
        )
    problems = Problems()
    if not isinstance(raw, dict):
        problems.add("The definition must be a JSON object.")
        problems.raise_if_any()
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        problems.add("A name of 1 to 200 characters is required.", None, "name")
    trigger = _trigger(raw.get("trigger"), problems)
    variables = raw.get("vars", {})
    if not isinstance(variables, dict):
        problems.add("vars must be an object.", None, "vars")
        variables = {}
    nodes = raw.get("nodes")
    if not isinstance(nodes, list):
        problems.add("nodes must be a list.", None, "nodes")
        nodes = []
    if len(nodes) > limits.max_nodes:
        problems.add(f"At most {limits.max_nodes} nodes are allowed.", None, "nodes")
        problems.raise_if_any()
    risks, on_error, by_id = _nodes(nodes, tools, problems)
    edges = _edges(raw.get("edges", []), by_id, on_error, problems)
    problems.raise_if_any()
    _acyclic(list(by_id), edges, problems)
    problems.raise_if_any()
    definition = {
        "name": name.strip() if isinstance(name, str) else "",
        "description": str(raw.get("description") or ""),
        "enabled": bool(raw.get("enabled", False)),
        "trigger": trigger,
        "nodes": nodes,
        "edges": edges,
        "vars": variables,
    }
    return Checked(definition, max_risk(*risks))


def _trigger(trigger: Any, problems: Problems) -> dict[str, Any]:
    if isinstance(trigger, list):
        problems.add("Exactly one trigger is required.", None, "trigger")
        return {}
    if not isinstance(trigger, dict) or trigger.get("type") not in TRIGGER_TYPES:
        problems.add(
            f"trigger.type must be one of {', '.join(TRIGGER_TYPES)}.", None, "trigger.type"
        )
        return {}
    kind = trigger["type"]
    if kind == "cron":
        expression = trigger.get("expression")
        zone = trigger.get("timezone", "UTC")
        try:
            tz = ZoneInfo(str(zone))
        except (ZoneInfoNotFoundError, ValueError):
            problems.add(f"Unknown time zone {zone!r}.", None, "trigger.timezone")
            tz = ZoneInfo("UTC")
        try:
            if not isinstance(expression, str):
                raise CronSimError("missing")
            next(CronSim(expression, datetime.now(UTC).astimezone(tz)))
        except (CronSimError, StopIteration, ValueError):
            problems.add("A valid cron expression is required.", None, "trigger.expression")
        if trigger.get("misfire", "run_once") not in ("run_once", "skip"):
            problems.add("misfire is run_once or skip.", None, "trigger.misfire")
        if trigger.get("overlap", "skip") not in ("skip", "allow", "queue"):
            problems.add("overlap is skip, allow or queue.", None, "trigger.overlap")
    if kind == "event":
        if not isinstance(trigger.get("event"), str) or not trigger["event"]:
            problems.add("An event type (e.g. task.completed) is required.", None, "trigger.event")
        if not isinstance(trigger.get("filters", {}), dict):
            problems.add("filters must be an object of field: value.", None, "trigger.filters")
    return dict(trigger)


def _config_problems(
    kind: str, config: Any, node: str, path: str, tools: ToolRegistry, problems: Problems
) -> str:
    """Checks one config against its type; returns the step's risk."""
    validator = _VALIDATORS[kind]
    for error in sorted(validator.iter_errors(config), key=lambda e: list(e.path)):
        where = ".".join(str(p) for p in error.absolute_path)
        problems.add(error.message, node, f"{path}.{where}" if where else path)
    if not isinstance(config, dict):
        return RiskLevel.NONE.value
    for where, text in expressions.walk_strings(config):
        if expressions.is_expression(text):
            try:
                expressions.check(text)
            except expressions.ExpressionError as error:
                problems.add(f"Expression does not parse: {error.message}", node, f"{path}.{where}")
    risk = NODE_TYPES[kind].risk
    if risk == "(tool)":
        tool = tools.get(str(config.get("skill")))
        if tool is None:
            problems.add(
                f"No tool named {config.get('skill')!r} in the catalog.", node, f"{path}.skill"
            )
            return RiskLevel.NONE.value
        return tool.risk.value
    if risk == "(inner)":
        steps = [config.get("do")] if kind == "logic.loop" else list(config.get("branches") or [])
        inner: list[str] = []
        for index, step in enumerate(steps):
            where = f"{path}.do" if kind == "logic.loop" else f"{path}.branches[{index}]"
            if not isinstance(step, dict) or step.get("type") not in INLINE_TYPES:
                problems.add(
                    f"An inline step's type is one of {', '.join(INLINE_TYPES)}.",
                    node,
                    f"{where}.type",
                )
                continue
            inner.append(
                _config_problems(
                    step["type"], step.get("config"), node, f"{where}.config", tools, problems
                )
            )
        return max_risk(*inner)
    return risk


def _nodes(
    nodes: list[Any], tools: ToolRegistry, problems: Problems
) -> tuple[list[str], dict[str, str], dict[str, dict[str, Any]]]:
    risks: list[str] = []
    on_error: dict[str, str] = {}
    by_id: dict[str, dict[str, Any]] = {}
    for index, node in enumerate(nodes):
        if not isinstance(node, dict):
            problems.add("A node is an object.", None, f"nodes[{index}]")
            continue
        node_id = node.get("id")
        if not isinstance(node_id, str) or not NODE_ID.match(node_id):
            problems.add(
                "A node id is 1-64 letters, digits, _ or -, starting with a letter.",
                None,
                f"nodes[{index}].id",
            )
            continue
        if node_id in by_id:
            problems.add("Duplicate node id.", node_id, "id")
            continue
        by_id[node_id] = node
        kind = node.get("type")
        if kind not in NODE_TYPES:
            problems.add(f"Unknown node type {kind!r}.", node_id, "type")
            continue
        node.setdefault("config", {})
        for name, validator in _FIELD_VALIDATORS.items():
            if name in node:
                for error in validator.iter_errors(node[name]):
                    where = ".".join(str(p) for p in error.absolute_path)
                    problems.add(error.message, node_id, f"{name}.{where}" if where else name)
        unknown = set(node) - {"id", "type", "config", "position", "name", *NODE_FIELDS}
        if unknown:
            problems.add(
                f"Unknown fields: {', '.join(sorted(unknown))}.", node_id, sorted(unknown)[0]
            )
        risks.append(_config_problems(kind, node["config"], node_id, "config", tools, problems))
        on_error[node_id] = str(node.get("onError", "fail"))
    return risks, on_error, by_id


def _labels(node: dict[str, Any], on_error: str) -> set[str] | None:
    kind = NODE_TYPES[node["type"]]
    if kind.free_labels:
        cases = node["config"].get("cases") or []
        labels = {str(c) for c in cases} | {"default"}
    else:
        labels = set(kind.labels)
    if on_error == "route":
        labels.add(ERROR_LABEL)
    return labels


def _edges(
    raw: Any, by_id: dict[str, dict[str, Any]], on_error: dict[str, str], problems: Problems
) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        problems.add("edges must be a list.", None, "edges")
        return []
    edges: list[dict[str, Any]] = []
    for index, edge in enumerate(raw):
        where = f"edges[{index}]"
        if not isinstance(edge, dict):
            problems.add("An edge is an object {from, to, when?}.", None, where)
            continue
        source, target, when = edge.get("from"), edge.get("to"), edge.get("when")
        for end, value in (("from", source), ("to", target)):
            if value not in by_id:
                problems.add(f"The edge's {end} names no node ({value!r}).", None, f"{where}.{end}")
        if source not in by_id or target not in by_id:
            continue
        if source == target:
            problems.add(
                "An edge may not point back at its own node (use logic.loop).",
                str(source),
                f"{where}.to",
            )
        if when is not None:
            labels = _labels(by_id[source], on_error.get(source, "fail"))
            if labels is not None and str(when) not in labels:
                allowed = ", ".join(sorted(labels)) or "none"
                problems.add(
                    f"when {when!r} is not a label of this node (allowed: {allowed}).",
                    str(source),
                    f"{where}.when",
                )
        edges.append({"from": source, "to": target, **({"when": str(when)} if when else {})})
    return edges


def _acyclic(ids: list[str], edges: list[dict[str, Any]], problems: Problems) -> None:
    incoming = dict.fromkeys(ids, 0)
    outgoing: dict[str, list[str]] = {node: [] for node in ids}
    for edge in edges:
        incoming[edge["to"]] += 1
        outgoing[edge["from"]].append(edge["to"])
    ready = deque(node for node, count in incoming.items() if count == 0)
    seen = 0
    while ready:
        node = ready.popleft()
        seen += 1
        for target in outgoing[node]:
            incoming[target] -= 1
            if incoming[target] == 0:
                ready.append(target)
    if seen < len(ids):
        stuck = sorted(node for node, count in incoming.items() if count > 0)
        problems.add(
            f"The edges form a cycle through {', '.join(stuck)} (loops are the "
            "logic.loop node, not back-edges); those nodes are unreachable.",
            stuck[0],
            "edges",
        )
