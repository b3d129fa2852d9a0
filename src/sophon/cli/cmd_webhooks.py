"""`sophon webhooks list|add|show|test|deliveries|retry|rotate-secret|delete`."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any
from urllib.parse import quote

import typer

from sophon.cli.core import new_app
from sophon.cli.errors import EXIT_USAGE, fail
from sophon.cli.listing import AllOpt, CursorOpt, LimitOpt, show_page
from sophon.cli.runtime import runtime

app = new_app("Outbound webhooks (signed event deliveries) and inbound receivers.")

COLUMNS = [
    ("id", "id"),
    ("kind", "kind"),
    ("name", "name"),
    ("status", "status"),
    ("target", "url"),
    ("slug", "slug"),
    ("failures", "failureCount"),
    ("last delivery", "lastDeliveryAt"),
]
DETAIL = [
    ("id", "id"),
    ("kind", "kind"),
    ("name", "name"),
    ("description", "description"),
    ("status", "status"),
    ("enabled", "enabled"),
    ("url", "url"),
    ("event types", "eventTypes"),
    ("headers", "headers"),
    ("receive url", "receiveUrl"),
    ("scheme", "scheme"),
    ("filters", "filters"),
    ("action", "action"),
    ("failures", "failureCount"),
    ("last delivery", "lastDeliveryAt"),
    ("created", "createdAt"),
    ("updated", "updatedAt"),
    ("secret (shown once)", "secret"),
]
DELIVERY_COLUMNS = [
    ("id", "id"),
    ("event", "eventType"),
    ("status", "status"),
    ("attempts", "attempts"),
    ("last code", "lastStatusCode"),
    ("error", "lastError"),
    ("task", "taskId"),
    ("created", "createdAt"),
]
DELIVERY_DETAIL = [
    *DELIVERY_COLUMNS,
    ("next attempt", "nextAttemptAt"),
    ("delivered", "deliveredAt"),
    ("payload", "payload"),
    ("attempt log", "attemptLog"),
]
WebhookArg = Annotated[str, typer.Argument(help="Webhook id (wh_…).")]


def _path(webhook: str, suffix: str = "") -> str:
    return f"/api/webhooks/{quote(webhook, safe='')}{suffix}"


def _headers(items: list[str]) -> dict[str, str]:
    headers = {}
    for item in items:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            fail(f"--header takes 'Name: value', got {item!r}", EXIT_USAGE)
        headers[name.strip()] = value.strip()
    return headers


def _filters(items: list[str]) -> list[dict[str, Any]]:
    """`header:X-GitHub-Event=push`, `body:repository.name="x"` (a JSON value or a string)."""
    rules = []
    for item in items:
        kind, _, rest = item.partition(":")
        key, sep, raw = rest.partition("=")
        if kind not in ("header", "body") or not sep or not key:
            fail(f"--filter takes header:Name=value or body:path=value, got {item!r}", EXIT_USAGE)
        if kind == "header":
            rules.append({"type": "header", "name": key, "value": raw})
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        rules.append({"type": "body", "path": key, "value": value})
    return rules


@app.command("list")
def list_(
    kind: Annotated[str | None, typer.Option(help="outbound or inbound.")] = None,
    limit: LimitOpt = 50,
    cursor: CursorOpt = None,
    everything: AllOpt = False,
) -> None:
    """The tenant's webhooks, newest first."""
    params = {"kind": kind} if kind else None
    show_page(
        "/api/webhooks", COLUMNS, limit=limit, cursor=cursor, everything=everything, params=params
    )


@app.command()
def add(
    name: Annotated[str, typer.Option(help="A label.")],
    url: Annotated[str | None, typer.Option(help="Outbound: where events are POSTed.")] = None,
    event: Annotated[
        list[str] | None, typer.Option("--event", "-e", help="Outbound: an event or family.*.")
    ] = None,
    header: Annotated[
        list[str] | None, typer.Option("--header", "-H", help="Outbound: 'Name: value'.")
    ] = None,
    inbound: Annotated[bool, typer.Option(help="Create an inbound receiver instead.")] = False,
    slug: Annotated[str | None, typer.Option(help="Inbound: the path's slug.")] = None,
    scheme: Annotated[
        str, typer.Option(help="Inbound: sophon, github, stripe, slack or standard.")
    ] = "sophon",
    secret: Annotated[str | None, typer.Option(help="Inbound: the provider's secret.")] = None,
    agent: Annotated[str | None, typer.Option(help="Inbound: the agent to run.")] = None,
    template: Annotated[
        str | None, typer.Option(help="Inbound: message, e.g. {{$trigger.body.ref}}.")
    ] = None,
    workflow: Annotated[str | None, typer.Option(help="Inbound: a workflow to start.")] = None,
    filter_: Annotated[
        list[str] | None,
        typer.Option("--filter", help="Inbound: header:Name=value or body:path=value."),
    ] = None,
    description: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create a webhook; its secret is printed this once."""
    rt = runtime()
    body: dict[str, Any] = {"name": name}
    if description is not None:
        body["description"] = description
    if inbound:
        action: dict[str, Any] = (
            {"type": "workflow", "workflowId": workflow}
            if workflow
            else {"type": "agent", "agentId": agent, "messageTemplate": template}
        )
        body |= {
            "kind": "inbound",
            "scheme": scheme,
            "filters": _filters(filter_ or []),
            "action": {k: v for k, v in action.items() if v is not None},
        }
        if slug:
            body["slug"] = slug
        if secret:
            body["secret"] = secret
    else:
        body |= {
            "kind": "outbound",
            "url": url,
            "eventTypes": event or [],
            "headers": _headers(header or []),
        }
    made = rt.api.post("/api/webhooks", json=body)
    rt.out.record(made, DETAIL)


@app.command()
def show(webhook: WebhookArg) -> None:
    """One webhook (header values masked)."""
    rt = runtime()
    rt.out.record(rt.api.get(_path(webhook)), DETAIL)


@app.command()
def test(webhook: WebhookArg) -> None:
    """Send a webhook.test event now; prints the delivery."""
    rt = runtime()
    rt.out.record(rt.api.post(_path(webhook, "/test")), DELIVERY_COLUMNS)


@app.command()
def deliveries(
    webhook: WebhookArg,
    delivery: Annotated[
        str | None, typer.Argument(help="One delivery (dlv_…), with every attempt.")
    ] = None,
    status: Annotated[str | None, typer.Option(help="Pending, Succeeded or Failed.")] = None,
    event: Annotated[str | None, typer.Option(help="Only this event type.")] = None,
    limit: LimitOpt = 50,
    cursor: CursorOpt = None,
    everything: AllOpt = False,
) -> None:
    """Deliveries (outbound) or receipts (inbound), newest first; or one with its attempts."""
    rt = runtime()
    if delivery:
        found = rt.api.get(_path(webhook, f"/deliveries/{quote(delivery, safe='')}"))
        rt.out.record(found, DELIVERY_DETAIL)
        return
    params = {k: v for k, v in (("status", status), ("eventType", event)) if v}
    show_page(
        _path(webhook, "/deliveries"),
        DELIVERY_COLUMNS,
        limit=limit,
        cursor=cursor,
        everything=everything,
        params=params,
    )


@app.command()
def retry(
    webhook: WebhookArg,
    delivery: Annotated[str, typer.Argument(help="The delivery (dlv_…).")],
) -> None:
    """Send a delivery again now (same id and body)."""
    rt = runtime()
    path = _path(webhook, f"/deliveries/{quote(delivery, safe='')}/retry")
    rt.out.record(rt.api.post(path), DELIVERY_COLUMNS)


@app.command("rotate-secret")
def rotate_secret(webhook: WebhookArg) -> None:
    """A new secret, printed once (outbound: the old one signs too for 24 hours)."""
    rt = runtime()
    rotated = rt.api.post(_path(webhook, "/rotate-secret"))
    if rt.format == "table":
        rt.out.text(f"New secret for {rotated['id']}: {rotated['secret']}")
    else:
        rt.out.record(rotated, DETAIL)


@app.command()
def delete(
    webhook: WebhookArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a webhook with its deliveries."""
    rt = runtime()
    if not yes and sys.stdin.isatty() and not typer.confirm(f"Delete webhook {webhook}?"):
        fail("not deleted", EXIT_USAGE)
    rt.api.delete(_path(webhook))
    rt.out.done(f"Deleted webhook {webhook}", {"deleted": webhook})
