"""What runs next: the DAG walked over the node records a run has so far. A node is ready when
every edge into it is settled and at least one was taken (or it has none); when all are settled
and none was taken it is Skipped. Pure functions, no database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sophon.workflows.models import NodeStatus

PLAIN_BLOCKED = frozenset({"error", "rejected"})
"""Outcomes that take only the edges labelled with them, never the plain ones."""


@dataclass(frozen=True)
class Record:
    """The latest attempt of one node, as the walk sees it."""

    status: str
    branch: str | None = None
    settled: bool = True
    """False while the node still runs, waits or will be retried."""


def _taken(edge: dict[str, Any], source: Record) -> bool:
    if source.status == NodeStatus.SKIPPED.value:
        return False
    when = edge.get("when")
    if when is None:
        return source.branch not in PLAIN_BLOCKED
    return bool(when == source.branch)


@dataclass(frozen=True)
class Next:
    ready: list[str]
    skipped: list[str]
    pending: list[str]
    """Nodes with a record that is not settled (running, waiting, retrying)."""


def walk(definition: dict[str, Any], records: dict[str, Record]) -> Next:
    edges_in: dict[str, list[dict[str, Any]]] = {n["id"]: [] for n in definition["nodes"]}
    for edge in definition["edges"]:
        edges_in[edge["to"]].append(edge)
    ready: list[str] = []
    skipped: list[str] = []
    pending = [node for node, record in records.items() if not record.settled]
    for node in definition["nodes"]:
        node_id = node["id"]
        if node_id in records:
            continue
        incoming = edges_in[node_id]
        if not incoming:
            ready.append(node_id)
            continue
        sources = [records.get(edge["from"]) for edge in incoming]
        if any(source is None or not source.settled for source in sources):
            continue
        if any(
            _taken(edge, source)
            for edge, source in zip(incoming, sources, strict=True)
            if source is not None
        ):
            ready.append(node_id)
        else:
            skipped.append(node_id)
    return Next(ready, skipped, pending)


def leaves(definition: dict[str, Any]) -> list[str]:
    sources = {edge["from"] for edge in definition["edges"]}
    return [n["id"] for n in definition["nodes"] if n["id"] not in sources]
