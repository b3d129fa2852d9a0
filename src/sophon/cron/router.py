"""`/api/cron`: scheduled jobs that run an agent, a workflow, a webhook or sandboxed code."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response, status

from sophon.cron import service as cron
from sophon.cron.models import CronJob, CronRun
from sophon.cron.schemas import CronJobIn, CronJobOut, CronJobPatchIn, CronRunOut
from sophon.cron.views import job_out, run_out
from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.identity.guard import PrincipalDep, requires, requires_any
from sophon.platform.access import api_router
from sophon.platform.pagination import Page, page_of
from sophon.platform.permissions import Permission as P
from sophon.platform.schemas import error_responses

router = api_router("/cron", tags=["Cron jobs"])
manage = requires(P.MANAGE_CRON_JOBS)
view = requires_any(P.MANAGE_CRON_JOBS, P.VIEW_CRON_JOBS)
ONE = error_responses(404)
CHANGE = error_responses(404, 409, 422)
Preview = Annotated[int, Query(ge=0, le=100, description="Also return the next N fire times.")]


@router.get("", operation_id="listCronJobs")
@view
async def list_jobs(
    db: DbDep, gateway: GatewayDep, page: PageDep, principal: PrincipalDep
) -> Page[CronJobOut]:
    """The tenant's cron jobs, newest first."""
    scope = f"cron:{principal.tenant_id}"
    return await page_of(
        gateway.paginator, db, cron.jobs(), page, scope, job_out, order=[CronJob.id]
    )


@router.post(
    "",
    operation_id="createCronJob",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409, 422),
)
@manage
async def create_job(
    body: CronJobIn, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> CronJobOut:
    """Creates a job; a risky action (Medium or above) waits in `PendingApproval`. A webhook
    action's signing secret is in the answer this once."""
    job, secret = await cron.create(db, principal, gateway.cron, body)
    return job_out(job, secret=secret)


@router.get("/{job_id}", operation_id="getCronJob", responses=ONE)
@view
async def get_job(job_id: str, db: DbDep, preview: Preview = 0) -> CronJobOut:
    """One job; `?preview=N` adds its next N fire times."""
    job = await cron.get(db, job_id)
    return job_out(job, preview=cron.preview(job, preview) if preview else None)


@router.patch("/{job_id}", operation_id="updateCronJob", responses=CHANGE)
@manage
async def update_job(
    job_id: str, body: CronJobPatchIn, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> CronJobOut:
    """Changes a job; a new schedule counts from now; a new risky action waits for approval."""
    return job_out(await cron.update(db, principal, gateway.cron, job_id, body))


@router.delete(
    "/{job_id}", operation_id="deleteCronJob", status_code=status.HTTP_204_NO_CONTENT, responses=ONE
)
@manage
async def delete_job(job_id: str, db: DbDep, principal: PrincipalDep) -> Response:
    """Deletes a job and its history (the audit log keeps what happened)."""
    await cron.delete(db, principal, job_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{job_id}/trigger", operation_id="triggerCronJob", responses=error_responses(404, 409)
)
@manage
async def trigger_job(job_id: str, db: DbDep, principal: PrincipalDep) -> CronRunOut:
    """Runs the job once now; `nextRunAt` stays as it was."""
    return run_out(await cron.trigger(db, principal, job_id))


@router.post("/{job_id}/pause", operation_id="pauseCronJob", responses=ONE)
@manage
async def pause_job(job_id: str, db: DbDep, principal: PrincipalDep) -> CronJobOut:
    """No fire until resumed."""
    return job_out(await cron.pause(db, principal, job_id))


@router.post("/{job_id}/resume", operation_id="resumeCronJob", responses=ONE)
@manage
async def resume_job(job_id: str, db: DbDep, principal: PrincipalDep) -> CronJobOut:
    """Active again; the next time counts from now (no backlog)."""
    return job_out(await cron.resume(db, principal, job_id))


@router.get("/{job_id}/history", operation_id="listCronJobHistory", responses=ONE)
@view
async def job_history(
    job_id: str, db: DbDep, gateway: GatewayDep, page: PageDep
) -> Page[CronRunOut]:
    """The job's runs, newest first."""
    await cron.get(db, job_id)
    return await page_of(
        gateway.paginator,
        db,
        cron.history(job_id),
        page,
        f"cron-history:{job_id}",
        run_out,
        order=[CronRun.id],
    )
