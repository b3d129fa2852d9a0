"""`sophon health`, `status`, `doctor`."""

from __future__ import annotations

from typing import Any

import typer
from rich.text import Text

from sophon import __version__
from sophon.cli import doctor_checks as checks
from sophon.cli.client import ApiError, optional
from sophon.cli.errors import EXIT_ERROR
from sophon.cli.listing import progress
from sophon.cli.runtime import runtime


def health() -> None:
    """Is the Gateway up? Exit 0 when healthy (3 when unreachable)."""
    rt = runtime()
    body = rt.api.get("/api/health")
    healthy = isinstance(body, dict) and body.get("status") == "ok"
    result = {"status": body.get("status") if isinstance(body, dict) else None,
              "gateway": rt.gateway_url}  # fmt: skip
    rt.out.done(f"{rt.gateway_url}: {result['status']}", result)
    if not healthy:
        raise typer.Exit(EXIT_ERROR)


def status() -> None:
    """Gateway version, tier, who you are, and the task queue."""
    rt = runtime()
    version = rt.api.get("/api/version")
    info: dict[str, Any] = {
        "gateway": rt.gateway_url,
        "version": version.get("version"),
        "apiVersion": version.get("apiVersion"),
        "cliVersion": __version__,
    }
    try:
        me = rt.api.get("/api/auth/me")
    except ApiError as exc:
        if exc.status != 401:
            raise
        info.update(user=None, tier=None, tenant=None)
    else:
        info.update(user=me["user"]["email"], roles=me["roles"], tier=me["tier"],
                    tenant=me["tenant"]["slug"])  # fmt: skip
        active = optional(lambda: rt.api.get("/api/tasks/active"), 403, 404)
        if active is not None:
            items = active.get("items", []) if isinstance(active, dict) else active
            info["activeTasks"] = len(items)
        ops = optional(lambda: rt.api.get("/api/ops/health"), 403, 404)
        if isinstance(ops, dict):
            info["health"] = ops.get("status")
            info["processing"] = ops.get("processing")
            info["queueDepth"] = (ops.get("queue") or {}).get("depth")
    if rt.format == "json":
        rt.out.raw_json(info)
        return
    if info.get("user") is None:
        info["user"] = "not signed in (`sophon login`)"
    rt.out.record(info)


_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


def doctor() -> None:
    """Check the data dir, database, migrations, sandbox, OCR, Redis, the Gateway, sign-in and model
    providers; print what is wrong and how to fix it. Exit 1 when a check fails."""
    rt = runtime()
    found: list[checks.Check] = []
    with progress(rt, "Checking…"):
        settings_check, settings = checks.settings_check()
        found.append(settings_check)
        if settings is not None:
            found.append(checks.data_dir_check(settings.data))
            found.append(checks.config_file_check())
            found.extend(checks.database_checks(settings))
            found.append(checks.sandbox_check())
            found.append(checks.ocr_check())
            found.append(checks.redis_check(settings))
        found.extend(checks.gateway_checks(rt.api, __version__))
    failed = any(c.status == "fail" for c in found)
    if rt.format == "json":
        rt.out.raw_json({"ok": not failed, "checks": [c.as_dict() for c in found]})
    elif rt.format == "csv":
        rt.out.items([c.as_dict() for c in found],
                     [("check", "name"), ("status", "status"), ("detail", "detail"),
                      ("fix", "fix")])  # fmt: skip
    else:
        for check in found:
            rt.out.console.print(
                Text.assemble(
                    (f"{check.status:<4}", _STYLE[check.status]),
                    "  ",
                    (check.name, "bold"),
                    f": {check.detail}",
                )
            )
            if check.fix and check.status in ("warn", "fail"):
                rt.out.console.print(Text(f"      fix: {check.fix}"))
        rt.out.console.print(Text(_verdict(found)))
    if failed:
        raise typer.Exit(EXIT_ERROR)


def _verdict(found: list[checks.Check]) -> str:
    if any(c.status == "fail" for c in found):
        return "Problems found."
    warnings = sum(c.status == "warn" for c in found)
    if warnings:
        return f"Nothing failed, but {warnings} warning{'s' if warnings > 1 else ''} to look at."
    return "No problems found."


def register(app: typer.Typer) -> None:
    app.command()(health)
    app.command()(status)
    app.command()(doctor)
