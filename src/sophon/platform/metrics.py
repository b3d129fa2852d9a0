"""Prometheus metrics: one registry per process, rendered at `/metrics`."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

registry = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "sophon_http_requests_total",
    "HTTP requests by method, route template and status.",
    ["method", "route", "status"],
    registry=registry,
)
LATENCY = Histogram(
    "sophon_http_request_duration_seconds",
    "HTTP request latency by method and route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=registry,
)
QUEUE_DEPTH = Gauge("sophon_task_queue_depth", "Tasks waiting in the queue.", registry=registry)

CONTENT_TYPE = CONTENT_TYPE_LATEST


_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    # label lookups cost more than the update; route templates keep this cache small
    key = (method, route, status)
    children = _children.get(key)
    if children is None:
        children = _children[key] = (
            REQUESTS.labels(method, route, str(status)),
            LATENCY.labels(method, route),
        )
    children[0].inc()
    children[1].observe(seconds)


def render() -> bytes:
    return generate_latest(registry)
