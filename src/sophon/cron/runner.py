"""Running a fired job (the queue's `cron.run` handler) with its creator's rights as they are at
fire time: an agent turn in the job's own session, a workflow run, a signed webhook through the
SSRF-guarded client, or Python in the sandbox. An agent run ends when its task does."""

from __future__ import annotations

import json
import logging
import ssl
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents import service as agents
from sophon.audit import service as audit
from sophon.audit.marks import audited, exempt
from sophon.chat import service as chat
from sophon.cron.context import CronContext
from sophon.cron.firing import RUN_JOB, SYSTEM_ACTOR, audience, run_payload
from sophon.cron.models import CronJob, CronRun, RunStatus
from sophon.identity.auth.principals import acting_for
from sophon.platform.clock import iso, utcnow
from sophon.platform.db import Database
from sophon.platform.errors import Conflict, DomainError, NotAuthorized, Unauthenticated
from sophon.platform.events import Audience, Event, EventName, after_commit
from sophon.platform.http import outbound_client
from sophon.platform.ids import new_id
from sophon.platform.netguard import OutboundRefused, split_allow_setting
from sophon.platform.permissions import Permission
from sophon.platform.queue import ClaimedJob, Job, JobStatus
from sophon.platform.tenancy import ALL_TENANTS
from sophon.runtime.sandbox import SandboxSpec, SandboxUnavailable, run_sandboxed
from sophon.tasks import service as tasks
from sophon.webhooks import signing

log = logging.getLogger("sophon.cron")

WEBHOOK_TIMEOUT_SECONDS = 30.0
WEBHOOK_MAX_RESPONSE_BYTES = 64 * 1024
ERROR_CHARS = 2000
WRITE = object()  # `_peek`: the run's start has to write (a turn to queue, a failure to record)
REPLY_CHARS = 2000


@dataclass(frozen=True)
class _Work:
    """What runs outside the transaction: a webhook call or sandboxed code."""

    action: dict[str, Any]
    secret: str | None


def _elapsed_ms(run: CronRun, now: datetime) -> int:
    return max(0, int((now - run.fired_at).total_seconds() * 1000))


@audited("cron.fail")
async def finish(
    db: AsyncSession, run: CronRun, job: CronJob | None, status: RunStatus, error: str | None = None
) -> None:
    """Ends a run; a failure is audited and announced (`CronFailed`)."""
    now = utcnow()
    run.status = status.value
    run.finished_at = now
    run.duration_ms = _elapsed_ms(run, now)
    run.error = error[:ERROR_CHARS] if error else None
    if job is None:
        return
    job.last_status = run.status
    if status is RunStatus.FAILED:
        payload = run_payload(job, run, error=run.error)
        after_commit(db, Event(EventName.CRON_FAILED.value, payload, job.tenant_id, audience(job)))
        await audit.record(
            db,
            {**SYSTEM_ACTOR, "tenantId": job.tenant_id},
            "cron.fail",
            ("cron", job.id),
            outcome="failure",
            details={"runId": run.id, "error": run.error},
        )


@exempt("keeps each job's history to its configured length")
async def prune(db: AsyncSession, job_id: str, keep: int) -> int:
    total = int(
        await db.scalar(select(func.count()).select_from(CronRun).where(CronRun.job_id == job_id))
        or 0
    )
    if total <= keep:
        return 0
    oldest = (
        await db.scalars(
            select(CronRun).where(CronRun.job_id == job_id).order_by(CronRun.id).limit(total - keep)
        )
    ).all()
    for run in oldest:
        await db.delete(run)
    return len(oldest)


async def _creator_problem(db: AsyncSession, job: CronJob) -> str | None:
    """Why the job may not run for its creator now, or None."""
    if job.created_by is None:
        return None
    try:
        principal = await acting_for(db, job.created_by, job.tenant_id)
    except (Unauthenticated, NotAuthorized) as exc:
        return f"The job's creator can no longer run it: {exc.message}"
    kind = job.action.get("type")
    # a workflow's own schedule is kept by whoever may change the workflow
    needed = [Permission.MANAGE_WORKFLOWS if kind == "workflow" else Permission.MANAGE_CRON_JOBS]
    if kind == "agent":
        needed.append(Permission.USE_CHAT)
    missing = [p.value for p in needed if not principal.can(p)]
    if missing:
        return f"The job's creator no longer has the permission {', '.join(missing)}."
    return None


class CronRunner:
    """The queue handler of `cron.run`, one per Gateway process."""

    def __init__(self, database: Database, ctx: CronContext) -> None:
        self.database = database
        self.ctx = ctx
        self._tls: ssl.SSLContext | None = None

    def _tls_context(self) -> ssl.SSLContext:
        """Made once: loading the CA bundle costs ~0.1 s of CPU, too much for every fire."""
        if self._tls is None:
            self._tls = httpx.create_ssl_context()
        return self._tls

    async def handle(self, claimed: ClaimedJob) -> dict[str, Any] | None:
        try:
            return await self._handle(claimed)
        except Exception as exc:  # re-raised: the queue retries; the last attempt ends the run
            if claimed.attempts >= claimed.max_attempts:
                await self._give_up(claimed, f"The run failed: {exc!r}")
            raise

    async def _give_up(self, claimed: ClaimedJob, error: str) -> None:
        async with self.database.transaction(tenant_id=claimed.tenant_id) as db:
            run = await db.get(CronRun, str(claimed.payload.get("runId")), with_for_update=True)
            if run is not None and run.status == RunStatus.RUNNING.value:
                job = await db.get(CronJob, run.job_id, with_for_update=True)
                await finish(db, run, job, RunStatus.FAILED, error)

    async def _handle(self, claimed: ClaimedJob) -> dict[str, Any] | None:
        run_id = str(claimed.payload.get("runId"))
        async with self.database.transaction(readonly=True, tenant_id=claimed.tenant_id) as db:
            work = await self._peek(db, run_id)  # most runs need no write before their work
        if work is WRITE:
            async with self.database.transaction(tenant_id=claimed.tenant_id) as db:
                work = await self._begin(db, run_id)
        if not isinstance(work, _Work):
            return None
        status, error = await self._perform(work)
        async with self.database.transaction(tenant_id=claimed.tenant_id) as db:
            run = await db.get(CronRun, run_id, with_for_update=True)
            if run is None or run.status != RunStatus.RUNNING.value:
                return None
            job = await db.get(CronJob, run.job_id, with_for_update=True)
            await finish(db, run, job, status, error)
            await prune(db, run.job_id, self.ctx.settings.cron_history_per_job)
        return {"runId": run_id, "status": status.value}

    async def _peek(self, db: AsyncSession, run_id: str) -> _Work | object | None:
        """What `_begin` would do, read-only: the work, None, or WRITE when it has to write."""
        run = await db.get(CronRun, run_id)
        if run is None or run.status != RunStatus.RUNNING.value or run.task_id is not None:
            return None
        job = await db.get(CronJob, run.job_id)
        if job is None or job.action.get("type") not in ("webhook", "code"):
            return WRITE
        if await _creator_problem(db, job) is not None:
            return WRITE
        return self._work(job)

    def _work(self, job: CronJob) -> _Work:
        secret = None
        if job.action.get("type") == "webhook" and job.secret is not None:
            secret = self.ctx.vault.decrypt(job.secret, f"cron:{job.id}")
        return _Work(dict(job.action), secret)

    async def _begin(self, db: AsyncSession, run_id: str) -> _Work | None:
        run = await db.get(CronRun, run_id, with_for_update=True)
        if run is None or run.status != RunStatus.RUNNING.value or run.task_id is not None:
            return None  # gone with its job, already settled, or its turn already queued
        job = await db.get(CronJob, run.job_id, with_for_update=True)
        if job is None:
            await finish(db, run, None, RunStatus.CANCELLED, "The job was deleted.")
            return None
        problem = await _creator_problem(db, job)
        if problem is not None:
            await finish(db, run, job, RunStatus.FAILED, problem)
            return None
        kind = job.action.get("type")
        if kind == "agent":
            await self._start_turn(db, job, run)
            return None
        if kind == "workflow":
            await self._start_workflow(db, job, run)
            return None
        return self._work(job)

    async def _start_turn(self, db: AsyncSession, job: CronJob, run: CronRun) -> None:
        action = job.action
        agent = await agents.get_any(db, str(action.get("agentId")))
        if agent is None or agent.deleted_at is not None:
            await finish(db, run, job, RunStatus.FAILED, "The job's agent no longer exists.")
            return
        wanted = action.get("sessionId") or job.session_id
        session = await chat.get_session_any(db, str(wanted)) if wanted else None
        if session is not None and (
            session.user_id != job.created_by or session.agent_id != agent.id
        ):
            session = None
        if session is None:
            session = chat.new_session(
                db, user_id=job.created_by, agent_id=agent.id, kind="cron", title=f"cron:{job.name}"
            )
            if not action.get("sessionId"):
                job.session_id = session.id
        message = chat.append_message(db, session, "user", str(action.get("message")))
        task = tasks.create(
            db,
            kind="cron",
            user_id=job.created_by,
            agent_id=agent.id,
            session_id=session.id,
            message_id=message.id,
            description=f"Cron {job.name}: {action.get('message')}",
            streaming=False,
        )
        run.task_id = task.id

    async def _start_workflow(self, db: AsyncSession, job: CronJob, run: CronRun) -> None:
        launcher = self.ctx.workflows
        workflow_id = str(job.action.get("workflowId"))
        if launcher is None or not await launcher.exists(db, workflow_id):
            await finish(db, run, job, RunStatus.FAILED, "workflow not found")
            return
        try:
            started = await launcher.launch(
                db,
                workflow_id,
                trigger={"type": "cron", "cronJobId": job.id},
                input=job.action.get("input"),
                user_id=job.created_by,
            )
        except Conflict as exc:  # disabled, paused or waiting for its approval: it ignores this
            await finish(db, run, job, RunStatus.SKIPPED, exc.message)
            return
        except DomainError as exc:
            await finish(db, run, job, RunStatus.FAILED, exc.message)
            return
        run.task_id = started  # settled when the task ends

    async def _perform(self, work: _Work) -> tuple[RunStatus, str | None]:
        if work.action.get("type") == "webhook":
            return await self._webhook(work)
        return await _code(str(work.action.get("source")))

    async def _webhook(self, work: _Work) -> tuple[RunStatus, str | None]:
        action = work.action
        body = action.get("body")
        raw = b"" if body is None else json.dumps(body).encode()
        headers = dict(action.get("headers") or {})
        if raw:
            headers.setdefault("content-type", "application/json")
        if work.secret is not None:
            stamp = int(utcnow().timestamp())
            headers.update(signing.outbound_headers([work.secret], new_id("msg"), stamp, raw))
        settings = self.ctx.settings
        client = outbound_client(
            allow=split_allow_setting(settings.outbound_allow),
            resolver=self.ctx.resolver,
            verify=self._tls_context(),
            total_timeout=WEBHOOK_TIMEOUT_SECONDS,
            max_response_bytes=WEBHOOK_MAX_RESPONSE_BYTES,
        )
        try:
            async with client:
                response = await client.request(
                    str(action.get("method", "POST")),
                    str(action["url"]),
                    content=raw,
                    headers=headers,
                )
        except OutboundRefused as exc:
            return RunStatus.FAILED, exc.message
        except httpx.HTTPError as exc:
            return RunStatus.FAILED, f"The request failed: {exc!r}"
        if response.status_code >= 400:
            return RunStatus.FAILED, f"The endpoint answered HTTP {response.status_code}."
        return RunStatus.SUCCEEDED, None


async def _code(source: str) -> tuple[RunStatus, str | None]:
    try:
        result = await run_sandboxed(SandboxSpec(script=source, language="python"))
    except SandboxUnavailable as exc:
        return RunStatus.FAILED, exc.message
    if result.killed_reason is not None:
        return RunStatus.FAILED, f"The sandbox stopped the code ({result.killed_reason})."
    if result.exit_code != 0:
        tail = result.stderr_text[-ERROR_CHARS:]
        return RunStatus.FAILED, f"Exit code {result.exit_code}: {tail}"
    return RunStatus.SUCCEEDED, None


TASK_OUTCOMES = {
    EventName.TASK_COMPLETED.value: RunStatus.SUCCEEDED,
    EventName.TASK_FAILED.value: RunStatus.FAILED,
    EventName.TASK_CANCELLED.value: RunStatus.CANCELLED,
}


@audited("cron.fail")
async def settle_task(
    db: AsyncSession, task_id: str, status: RunStatus, error: str | None, keep: int
) -> CronRun | None:
    """The run whose task ended takes its outcome; an agent's reply notifies the job's owner."""
    run = await db.scalar(select(CronRun).where(CronRun.task_id == task_id).with_for_update())
    if run is None or run.status != RunStatus.RUNNING.value:
        return None
    job = await db.get(CronJob, run.job_id, with_for_update=True)
    await finish(db, run, job, status, error)
    if job is not None:
        task = await tasks.lock(db, task_id)
        if status is RunStatus.SUCCEEDED and job.created_by and task and task.session_id:
            await _notify_reply(db, job, run, task.session_id)
        await prune(db, job.id, keep)
    return run


async def _notify_reply(db: AsyncSession, job: CronJob, run: CronRun, session_id: str) -> None:
    task_id = str(run.task_id)
    assert job.created_by is not None
    replies = [
        m for m in await chat.task_messages(db, session_id, task_id) if m.role == "assistant"
    ]
    if not replies:
        return
    after_commit(
        db,
        Event(
            EventName.NOTIFICATION.value,
            {
                "id": new_id("ntf"),
                "kind": "cron",
                "title": f"Cron job {job.name}",
                "body": replies[-1].content[:REPLY_CHARS],
                "jobId": job.id,
                "runId": run.id,
                "sessionId": session_id,
                "taskId": task_id,
                "at": iso(utcnow()),
            },
            tenant_id=job.tenant_id,
            audience=Audience(user_ids=frozenset({job.created_by})),
        ),
    )


TASK_STATUSES = {
    "Completed": RunStatus.SUCCEEDED,
    "Failed": RunStatus.FAILED,
    "Cancelled": RunStatus.CANCELLED,
}
SWEEP_LIMIT = 200


@exempt("settles runs whose task ended unseen (the settling itself audits a failure)")
async def settle_ended_tasks(database: Database, keep: int) -> int:
    """Agent runs whose task ended while no listener saw it (the process that ran the turn died
    before its event went out) take the task's outcome; returns how many."""
    async with database.transaction(readonly=True) as db:
        stmt = (
            select(CronRun.tenant_id, CronRun.task_id)
            .where(CronRun.status == RunStatus.RUNNING.value, CronRun.task_id.is_not(None))
            .limit(SWEEP_LIMIT)
            .execution_options(**ALL_TENANTS)
        )
        pending = [(t, str(k)) for t, k in (await db.execute(stmt)).all()]
    settled = 0
    for tenant_id, task_id in pending:
        async with database.transaction(tenant_id=tenant_id) as db:
            task = await tasks.lock(db, task_id)
            if task is not None and task.status not in TASK_STATUSES:
                continue  # still queued or running
            status = TASK_STATUSES[task.status] if task is not None else RunStatus.CANCELLED
            error = (task.error if task is not None else "The task no longer exists.") or None
            if await settle_task(db, task_id, status, error, keep) is not None:
                settled += 1
    return settled


GAVE_UP = (JobStatus.FAILED.value, JobStatus.CANCELLED.value)


@exempt("settles runs whose queue job was given up (the settling itself audits a failure)")
async def settle_abandoned(database: Database, keep: int) -> int:
    """Runs the queue gave up on before they started their work (their worker died on every
    attempt, so no handler was left to end them) end Failed with the queue's reason; returns
    how many. A run whose job is still queued or running is left alone."""
    async with database.transaction(readonly=True) as db:
        stmt = (
            select(CronRun.tenant_id, CronRun.id, Job.last_error)
            .join(
                Job,
                (Job.kind == RUN_JOB) & (Job.payload["runId"].as_string() == CronRun.id),
            )
            .where(
                CronRun.status == RunStatus.RUNNING.value,
                CronRun.task_id.is_(None),
                Job.status.in_(GAVE_UP),
            )
            .limit(SWEEP_LIMIT)
            .execution_options(**ALL_TENANTS)
        )
        pending = [(str(t), str(r), e) for t, r, e in (await db.execute(stmt)).all()]
    settled = 0
    for tenant_id, run_id, last_error in pending:
        async with database.transaction(tenant_id=tenant_id) as db:
            run = await db.get(CronRun, run_id, with_for_update=True)
            if run is None or run.status != RunStatus.RUNNING.value or run.task_id is not None:
                continue
            job = await db.get(CronJob, run.job_id, with_for_update=True)
            reason = f"The queue gave up on the run: {last_error or 'no attempt finished'}."
            await finish(db, run, job, RunStatus.FAILED, reason)
            await prune(db, run.job_id, keep)
            settled += 1
    return settled
