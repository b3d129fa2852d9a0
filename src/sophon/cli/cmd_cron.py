"""`sophon cron add|list|show|trigger|pause|resume|delete|history`: jobs by name or id."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from sophon.cli.core import new_app
from sophon.cli.errors import EXIT_USAGE, CliError, fail
from sophon.cli.listing import AllOpt, CursorOpt, LimitOpt, show_page
from sophon.cli.runtime import Runtime, runtime

app = new_app("Cron jobs: schedules that run an agent, a workflow, a webhook or code.")

COLUMNS = [
    ("id", "id"),
    ("name", "name"),
    ("schedule", "expression"),
    ("tz", "timezone"),
    ("action", "action.type"),
    ("status", "status"),
    ("next run", "nextRunAt"),
    ("last", "lastStatus"),
]
DETAIL = [
    *COLUMNS,
    ("type", "scheduleType"),
    ("overlap", "overlapPolicy"),
    ("grace s", "misfireGraceSeconds"),
    ("last run", "lastRunAt"),
    ("approval", "approvalId"),
    ("created by", "createdBy"),
    ("created", "createdAt"),
    ("next times", "preview"),
    ("signing secret", "signingSecret"),
]
RUNS = [
    ("id", "id"),
    ("scheduled", "scheduledFor"),
    ("fired", "firedAt"),
    ("status", "status"),
    ("trigger", "trigger"),
    ("ms", "durationMs"),
    ("task", "taskId"),
    ("error", "error"),
]
JobArg = Annotated[str, typer.Argument(help="The job's name or id (cron_…).")]


def job_path(job_id: str, suffix: str = "") -> str:
    return f"/api/cron/{quote(job_id, safe='')}{suffix}"


def resolve(rt: Runtime, ref: str) -> str:
    """The id of the job named `ref` (case-insensitive), or `ref` itself when it is an id."""
    if ref.startswith("cron_"):
        return ref
    for page in rt.api.pages("/api/cron", limit=200):
        for job in page.items:
            if str(job["name"]).casefold() == ref.strip().casefold():
                return str(job["id"])
    raise CliError(f"No cron job named {ref!r} (sophon cron list shows them).")


def _action(
    kind: str,
    *,
    agent: str | None,
    message: str | None,
    workflow: str | None,
    url: str | None,
    method: str,
    code: str | None,
    code_file: Path | None,
) -> dict[str, Any]:
    if kind == "agent":
        if not message:
            fail("--action agent needs --message.", EXIT_USAGE)
        return {"type": "agent", "agentId": agent or "default", "message": message}
    if kind == "workflow":
        if not workflow:
            fail("--action workflow needs --workflow.", EXIT_USAGE)
        return {"type": "workflow", "workflowId": workflow}
    if kind == "webhook":
        if not url:
            fail("--action webhook needs --url.", EXIT_USAGE)
        return {"type": "webhook", "url": url, "method": method.upper()}
    if kind == "code":
        source = code_file.read_text(encoding="utf-8") if code_file else code
        if not source:
            fail("--action code needs --code or --code-file.", EXIT_USAGE)
        return {"type": "code", "language": "python", "source": source}
    raise CliError(f"Unknown action {kind!r}: agent, workflow, webhook or code.", EXIT_USAGE)


@app.command()
def add(
    name: Annotated[str, typer.Option(help="Unique in the tenant.")],
    schedule: Annotated[
        str, typer.Option(help='Cron ("0 9 * * MON-FRI"), an ISO datetime, or an interval (15m).')
    ],
    action: Annotated[str, typer.Option(help="agent, workflow, webhook or code.")] = "agent",
    schedule_type: Annotated[
        str, typer.Option("--type", help="recurring, one-shot or interval.")
    ] = "recurring",
    tz: Annotated[str | None, typer.Option("--tz", help="IANA time zone (default UTC).")] = None,
    agent: Annotated[str | None, typer.Option(help="Agent name or id (agent).")] = None,
    message: Annotated[str | None, typer.Option(help="What to ask the agent (agent).")] = None,
    workflow: Annotated[str | None, typer.Option(help="Workflow id (workflow).")] = None,
    url: Annotated[str | None, typer.Option(help="Target URL (webhook).")] = None,
    method: Annotated[str, typer.Option(help="HTTP method (webhook).")] = "POST",
    code: Annotated[str | None, typer.Option(help="Python source (code).")] = None,
    code_file: Annotated[Path | None, typer.Option(help="Python file (code).")] = None,
    overlap: Annotated[str, typer.Option(help="skip, queue or allow.")] = "skip",
    grace: Annotated[int, typer.Option(help="Misfire grace in seconds.")] = 3600,
    disabled: Annotated[bool, typer.Option(help="Create it paused.")] = False,
) -> None:
    """Create a job (a risky action waits for an approval)."""
    rt = runtime()
    body = {
        "name": name,
        "scheduleType": schedule_type,
        "expression": schedule,
        "timezone": tz,
        "action": _action(
            action,
            agent=agent,
            message=message,
            workflow=workflow,
            url=url,
            method=method,
            code=code,
            code_file=code_file,
        ),
        "overlapPolicy": overlap,
        "misfireGraceSeconds": grace,
        "enabled": not disabled,
    }
    job = rt.api.post("/api/cron", json=body)
    waits = f"; approve {job['approvalId']} first" if job.get("approvalId") else ""
    rt.out.done(f"Cron job {job['name']} ({job['id']}): {job['status']}{waits}", job)


@app.command("list")
def list_(limit: LimitOpt = 50, cursor: CursorOpt = None, everything: AllOpt = False) -> None:
    """The tenant's cron jobs."""
    show_page("/api/cron", COLUMNS, limit=limit, cursor=cursor, everything=everything)


@app.command()
def show(
    job: JobArg,
    preview: Annotated[int, typer.Option(min=0, max=100, help="Next N fire times.")] = 5,
) -> None:
    """One job and its next fire times."""
    rt = runtime()
    detail = rt.api.get(job_path(resolve(rt, job)), params={"preview": preview or None})
    if rt.format == "json":
        rt.out.raw_json(detail)
        return
    rt.out.record(detail, DETAIL)


@app.command()
def trigger(job: JobArg) -> None:
    """Run the job once now (its next scheduled time stays)."""
    rt = runtime()
    run = rt.api.post(job_path(resolve(rt, job), "/trigger"))
    rt.out.done(f"Run {run['id']}: {run['status']}", run)


@app.command()
def pause(job: JobArg) -> None:
    """No fire until resumed."""
    rt = runtime()
    done = rt.api.post(job_path(resolve(rt, job), "/pause"))
    rt.out.done(f"Cron job {done['name']}: {done['status']}", done)


@app.command()
def resume(job: JobArg) -> None:
    """Active again; the next time counts from now."""
    rt = runtime()
    done = rt.api.post(job_path(resolve(rt, job), "/resume"))
    rt.out.done(f"Cron job {done['name']}: {done['status']}, next {done['nextRunAt']}", done)


@app.command()
def delete(job: JobArg) -> None:
    """Delete the job and its history."""
    rt = runtime()
    job_id = resolve(rt, job)
    rt.api.delete(job_path(job_id))
    rt.out.done(f"Cron job {job} deleted.", {"id": job_id, "deleted": True})


@app.command()
def history(
    job: JobArg, limit: LimitOpt = 20, cursor: CursorOpt = None, everything: AllOpt = False
) -> None:
    """The job's runs, newest first."""
    rt = runtime()
    path = job_path(resolve(rt, job), "/history")
    show_page(path, RUNS, limit=limit, cursor=cursor, everything=everything)
