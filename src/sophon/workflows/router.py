"""`/api/workflows`: definitions with versions, triggers, runs with their node records."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Body, Query, status

from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.gateway import Gateway
from sophon.identity.guard import PrincipalDep, requires, requires_any
from sophon.platform.access import api_router
from sophon.platform.errors import Conflict
from sophon.platform.pagination import Page, page_in_memory, page_of
from sophon.platform.permissions import Permission as P
from sophon.platform.principal import Principal
from sophon.platform.schemas import VersionNumber, error_responses
from sophon.settings import Settings
from sophon.tools.registry import ToolRegistry
from sophon.workflows import run_service as runs
from sophon.workflows import service as workflows
from sophon.workflows.definition import Limits, validate
from sophon.workflows.models import WorkflowVersion
from sophon.workflows.nodetypes import NODE_TYPES
from sophon.workflows.schemas import (
    CloneIn,
    NodeTypeOut,
    RunOut,
    RunStarted,
    RunSummary,
    SecretsIn,
    TriggerIn,
    ValidationOut,
    VersionOut,
    WorkflowOut,
    WorkflowSummary,
)
from sophon.workflows.views import (
    node_type_out,
    run_out,
    run_summary,
    summary,
    version_out,
    workflow_out,
)

router = api_router("/workflows", tags=["Workflows"])
manage = requires(P.MANAGE_WORKFLOWS)
view = requires_any(P.VIEW_WORKFLOWS, P.MANAGE_WORKFLOWS)
DEFINITION = Body(
    description="The definition JSON: {name, trigger, nodes, edges, vars, "
    "enabled?}. Problems answer 422 naming the node and the field."
)
ONE = error_responses(404)
CHANGE = error_responses(404, 409, 413, 422)
RunStatusQ = Literal["Queued", "Running", "Waiting", "Paused", "Completed", "Failed", "Cancelled"]


def _catalog(gateway: Gateway, principal: Principal) -> ToolRegistry:
    """The tools a definition may name: the catalog with the tenant's bridged MCP tools."""
    return gateway.tools.for_tenant(principal.tenant_id)


def limits(settings: Settings) -> Limits:
    return Limits(settings.workflow_max_nodes, settings.workflow_max_definition_bytes)


@router.get("", operation_id="listWorkflows")
@view
async def list_workflows(db: DbDep, gateway: GatewayDep, page: PageDep) -> Page[WorkflowSummary]:
    """The tenant's workflows, newest first."""
    return await page_of(gateway.paginator, db, workflows.listed(), page, "workflows", summary)


@router.post(
    "",
    operation_id="createWorkflow",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(413, 422),
)
@manage
async def create_workflow(
    db: DbDep,
    gateway: GatewayDep,
    principal: PrincipalDep,
    body: Annotated[dict[str, Any], DEFINITION],
) -> WorkflowOut:
    """Saves a workflow as version 1. With a step at Medium risk or above, `enabled: true` asks
    for an approval first (the workflow is enabled once it is approved)."""
    workflow = await workflows.create(
        db, principal, _catalog(gateway, principal), limits(gateway.settings), gateway.cron, body
    )
    return workflow_out(workflow)


@router.post(
    "/import",
    operation_id="importWorkflow",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(413, 422),
)
@manage
async def import_workflow(
    db: DbDep,
    gateway: GatewayDep,
    principal: PrincipalDep,
    body: Annotated[dict[str, Any], DEFINITION],
) -> WorkflowOut:
    """Imports an exported definition as a new workflow (its `id` and `version` are not kept)."""
    raw = {k: v for k, v in body.items() if k not in ("id", "version")}
    workflow = await workflows.create(
        db,
        principal,
        _catalog(gateway, principal),
        limits(gateway.settings),
        gateway.cron,
        raw,
        summary=f"imported{' from ' + str(body['id']) if body.get('id') else ''}",
    )
    return workflow_out(workflow)


@router.post("/validate", operation_id="validateWorkflow", responses=error_responses(413, 422))
@manage
async def validate_workflow(
    gateway: GatewayDep, principal: PrincipalDep, body: Annotated[dict[str, Any], DEFINITION]
) -> ValidationOut:
    """Checks a definition without saving it: 200 with its risk, or 422 naming node and field."""
    checked = validate(body, _catalog(gateway, principal), limits(gateway.settings))
    return ValidationOut(
        valid=True,
        risk=checked.risk,
        node_count=len(checked.definition["nodes"]),
        definition=checked.definition,
    )


@router.get("/node-types", operation_id="listWorkflowNodeTypes")
@view
async def node_types(gateway: GatewayDep, page: PageDep) -> Page[NodeTypeOut]:
    """Every node type with the JSON Schema of its `config`."""
    items = [node_type_out(t) for t in NODE_TYPES.values()]
    return page_in_memory(gateway.paginator, items, page, "workflow-node-types", lambda t: t.type)


@router.get("/{workflow_id}", operation_id="getWorkflow", responses=ONE)
@view
async def get_workflow(workflow_id: str, db: DbDep) -> WorkflowOut:
    """One workflow with its current definition."""
    return workflow_out(await workflows.get(db, workflow_id))


@router.get("/{workflow_id}/export", operation_id="exportWorkflow", responses=ONE)
@view
async def export_workflow(workflow_id: str, db: DbDep) -> dict[str, Any]:
    """The definition JSON (`{id, name, version, enabled, trigger, nodes, edges, vars}`)."""
    return workflows.export(await workflows.get(db, workflow_id))


@router.patch("/{workflow_id}", operation_id="updateWorkflow", responses=CHANGE)
@manage
async def update_workflow(
    workflow_id: str,
    db: DbDep,
    gateway: GatewayDep,
    principal: PrincipalDep,
    body: Annotated[dict[str, Any], DEFINITION],
) -> WorkflowOut:
    """Changes the fields given; a changed definition is a new version. Enabling (or changing a
    step at Medium risk or above of) a risky workflow asks for an approval."""
    workflow = await workflows.update(
        db,
        principal,
        _catalog(gateway, principal),
        limits(gateway.settings),
        gateway.cron,
        workflow_id,
        body,
    )
    return workflow_out(workflow)


@router.delete(
    "/{workflow_id}",
    operation_id="deleteWorkflow",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=ONE,
)
@manage
async def delete_workflow(
    workflow_id: str, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> None:
    """Deletes the workflow with its versions, runs and schedule (runs in flight are
    cancelled)."""
    await workflows.delete(db, principal, gateway.cron, workflow_id)


@router.put(
    "/{workflow_id}/secrets", operation_id="setWorkflowSecrets", responses=error_responses(404, 422)
)
@manage
async def set_secrets(
    workflow_id: str, body: SecretsIn, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> WorkflowOut:
    """Sets or removes (null) the workflow's secrets, encrypted by the vault; only names are
    shown. Nodes use them as `{{ $secrets.<name> }}`; node records mask their values."""
    workflow = await workflows.set_secrets(db, principal, gateway.vault, workflow_id, body.secrets)
    return workflow_out(workflow)


@router.post("/{workflow_id}/pause", operation_id="pauseWorkflow", responses=ONE)
@manage
async def pause(workflow_id: str, db: DbDep, principal: PrincipalDep) -> WorkflowOut:
    """Triggers are ignored; runs in flight stop at their next node boundary as Paused."""
    return workflow_out(await workflows.set_paused(db, principal, workflow_id, True))


@router.post("/{workflow_id}/resume", operation_id="resumeWorkflow", responses=ONE)
@manage
async def resume(workflow_id: str, db: DbDep, principal: PrincipalDep) -> WorkflowOut:
    """Triggers count again; paused runs go on."""
    return workflow_out(await workflows.set_paused(db, principal, workflow_id, False))


@router.post(
    "/{workflow_id}/clone",
    operation_id="cloneWorkflow",
    status_code=status.HTTP_201_CREATED,
    responses=ONE,
)
@manage
async def clone(
    workflow_id: str,
    db: DbDep,
    gateway: GatewayDep,
    principal: PrincipalDep,
    body: CloneIn | None = None,
) -> WorkflowOut:
    """A copy (disabled) of the current definition as a new workflow."""
    workflow = await workflows.clone(
        db,
        principal,
        _catalog(gateway, principal),
        limits(gateway.settings),
        gateway.cron,
        workflow_id,
        body.name if body else None,
    )
    return workflow_out(workflow)


@router.get("/{workflow_id}/history", operation_id="listWorkflowVersions", responses=ONE)
@view
async def history(
    workflow_id: str, db: DbDep, gateway: GatewayDep, page: PageDep
) -> Page[VersionOut]:
    """Versions, newest first: number, actor, time, change summary and definition."""
    await workflows.get(db, workflow_id)
    return await page_of(
        gateway.paginator,
        db,
        workflows.history(workflow_id),
        page,
        f"workflow-history:{workflow_id}",
        version_out,
        order=[WorkflowVersion.number],
    )


@router.post(
    "/{workflow_id}/versions/{number}/restore",
    operation_id="restoreWorkflowVersion",
    responses=CHANGE,
)
@manage
async def restore(
    workflow_id: str,
    number: VersionNumber,
    db: DbDep,
    gateway: GatewayDep,
    principal: PrincipalDep,
) -> WorkflowOut:
    """Makes an old version's definition the current one, as a new version."""
    workflow = await workflows.restore(
        db,
        principal,
        _catalog(gateway, principal),
        limits(gateway.settings),
        gateway.cron,
        workflow_id,
        number,
    )
    return workflow_out(workflow)


@router.post(
    "/{workflow_id}/trigger",
    operation_id="triggerWorkflow",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404, 409),
)
@manage
async def trigger(
    workflow_id: str, db: DbDep, principal: PrincipalDep, body: TriggerIn | None = None
) -> RunStarted:
    """Starts a run now (any trigger type): `{runId, taskId}`; follow it at `…/runs/{runId}` or
    `/api/tasks/{taskId}`. A paused workflow, or one waiting for its approval, is a 409."""
    workflow = await workflows.get(db, workflow_id)
    started = await runs.start(
        db,
        principal,
        workflow,
        user_id=principal.user_id,
        trigger={"type": "manual"},
        input_=body.input if body else None,
    )
    return RunStarted(run_id=started.run_id, task_id=started.task_id)


@router.post(
    "/{workflow_id}/webhook",
    operation_id="workflowWebhook",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404, 409),
)
@manage
async def webhook(
    workflow_id: str,
    db: DbDep,
    principal: PrincipalDep,
    body: Annotated[Any, Body(description="Any JSON: `$trigger.body` in expressions.")] = None,
) -> RunStarted:
    """The direct webhook trigger of a workflow whose trigger is `webhook` and that is enabled;
    the run has its owner's rights."""
    workflow = await workflows.get(db, workflow_id)
    if workflow.trigger_type != "webhook" or not workflow.enabled:
        raise Conflict(
            "The workflow is not an enabled webhook workflow.",
            {"triggerType": workflow.trigger_type, "enabled": workflow.enabled},
        )
    started = await runs.start(
        db, principal, workflow, user_id=workflow.owner_id, trigger={"type": "webhook"}, input_=body
    )
    return RunStarted(run_id=started.run_id, task_id=started.task_id)


@router.get("/{workflow_id}/runs", operation_id="listWorkflowRuns", responses=ONE)
@view
async def list_runs(
    workflow_id: str,
    db: DbDep,
    gateway: GatewayDep,
    page: PageDep,
    status_: Annotated[RunStatusQ | None, Query(alias="status")] = None,
) -> Page[RunSummary]:
    """The workflow's runs, newest first, optionally of one status."""
    await workflows.get(db, workflow_id)
    return await page_of(
        gateway.paginator,
        db,
        runs.runs_of(workflow_id, status_),
        page,
        f"workflow-runs:{workflow_id}:{status_}",
        run_summary,
    )


@router.get("/{workflow_id}/runs/{run_id}", operation_id="getWorkflowRun", responses=ONE)
@view
async def get_run(workflow_id: str, run_id: str, db: DbDep) -> RunOut:
    """The run with a record per node execution (attempts included)."""
    run = await runs.get_run(db, workflow_id, run_id)
    return run_out(run, await runs.node_records(db, run.id))


@router.post(
    "/{workflow_id}/runs/{run_id}/cancel",
    operation_id="cancelWorkflowRun",
    responses=error_responses(404, 409),
)
@requires(P.MANAGE_WORKFLOWS, rate="approval")
async def cancel_run(workflow_id: str, run_id: str, db: DbDep, principal: PrincipalDep) -> RunOut:
    """Queued, waiting or paused: Cancelled at once; running: stops after the running node."""
    run = await runs.cancel(db, principal, workflow_id, run_id)
    return run_out(run, await runs.node_records(db, run.id))


@router.post(
    "/{workflow_id}/runs/{run_id}/retry",
    operation_id="retryWorkflowRun",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404, 409),
)
@manage
async def retry_run(
    workflow_id: str, run_id: str, db: DbDep, principal: PrincipalDep
) -> RunStarted:
    """A new run that keeps the completed nodes of a Failed or Cancelled one and starts again
    from the node that failed."""
    workflow = await workflows.get(db, workflow_id)
    started = await runs.retry(db, principal, workflow, run_id)
    return RunStarted(run_id=started.run_id, task_id=started.task_id)
