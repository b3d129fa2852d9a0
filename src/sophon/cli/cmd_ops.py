"""`sophon ops pause|resume|drain|health|system`."""

from __future__ import annotations

import typer

from sophon.cli.core import new_app
from sophon.cli.errors import EXIT_ERROR
from sophon.cli.runtime import runtime

app = new_app("Operations: task processing and deep health.")


def _change(action: str) -> None:
    rt = runtime()
    result = rt.api.post(f"/api/ops/{action}")
    rt.out.done(f"Processing: {result['processing']}", result)


@app.command()
def pause() -> None:
    """Stop starting agent tasks (running ones finish; new ones wait in the queue)."""
    _change("pause")


@app.command()
def resume() -> None:
    """Start processing tasks again."""
    _change("resume")


@app.command()
def drain() -> None:
    """Finish running tasks, then pause; new task requests are refused meanwhile (503)."""
    _change("drain")


@app.command()
def health() -> None:
    """Database, queue, workers, scheduler and providers; exit 1 unless healthy."""
    rt = runtime()
    report = rt.api.get("/api/ops/health")
    if rt.format == "json":
        rt.out.raw_json(report)
    else:
        rt.out.record(
            report,
            [
                ("status", "status"),
                ("processing", "processing"),
                ("database", "database.status"),
                ("db latency ms", "database.latencyMs"),
                ("queue depth", "queue.depth"),
                ("workers", "workers.status"),
                ("running", "workers.running"),
                ("scheduler", "scheduler.status"),
                ("providers", "providers"),
            ],
        )
    if report.get("status") != "healthy":
        raise typer.Exit(EXIT_ERROR)


@app.command()
def system() -> None:
    """Process CPU time, memory, open files and the data directory's disk."""
    rt = runtime()
    rt.out.record(rt.api.get("/api/ops/system"))
