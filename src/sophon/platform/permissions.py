"""The permission catalog (the reference's names plus our System and Use groups) and the built-in
roles."""

from __future__ import annotations

from enum import StrEnum

from sophon.platform.errors import ValidationFailed


class Permission(StrEnum):
    # Users & identity
    MANAGE_USERS = "ManageUsers"
    MANAGE_ROLES = "ManageRoles"
    MANAGE_TENANTS = "ManageTenants"
    ASSIGN_ROLES = "AssignRoles"
    VIEW_USERS = "ViewUsers"
    # Resources
    MANAGE_AGENTS = "ManageAgents"
    MANAGE_WORKFLOWS = "ManageWorkflows"
    VIEW_WORKFLOWS = "ViewWorkflows"
    MANAGE_SKILLS = "ManageSkills"
    MANAGE_MEMORY = "ManageMemory"
    MANAGE_DOCUMENTS = "ManageDocuments"
    MANAGE_CONNECTIONS = "ManageConnections"
    MANAGE_CHANNELS = "ManageChannels"
    MANAGE_CRON_JOBS = "ManageCronJobs"
    VIEW_CRON_JOBS = "ViewCronJobs"
    MANAGE_WEBHOOKS = "ManageWebhooks"
    MANAGE_NODES = "ManageNodes"
    MANAGE_MCP = "ManageMcp"
    # Approvals & execution
    APPROVE_ACTIONS = "ApproveActions"
    CANCEL_TASKS = "CancelTasks"
    VIEW_ACTIVE_TASKS = "ViewActiveTasks"
    # Models & providers
    MANAGE_MODELS = "ManageModels"
    VIEW_BUDGETS = "ViewBudgets"
    MANAGE_BUDGETS = "ManageBudgets"
    # System (our design: the reference cuts off at this heading)
    VIEW_AUDIT = "ViewAudit"
    MANAGE_SETTINGS = "ManageSettings"
    MANAGE_LICENSE = "ManageLicense"
    MANAGE_COMPLIANCE = "ManageCompliance"
    MANAGE_BACKUPS = "ManageBackups"
    MANAGE_OPERATIONS = "ManageOperations"
    VIEW_SYSTEM_HEALTH = "ViewSystemHealth"
    # Use (our design): what an ordinary member needs to use the product, so that a token's
    # subset binds on these routes too
    USE_CHAT = "UseChat"
    VIEW_AGENTS = "ViewAgents"
    VIEW_MODELS = "ViewModels"
    VIEW_MEMORY = "ViewMemory"
    EDIT_MEMORY = "EditMemory"


ALL_PERMISSIONS = frozenset(Permission)
MEMBER = frozenset(
    {
        Permission.USE_CHAT,
        Permission.VIEW_AGENTS,
        Permission.VIEW_MODELS,
        Permission.VIEW_MEMORY,
        Permission.EDIT_MEMORY,
    }
)
VIEWER = frozenset(
    {
        Permission.VIEW_USERS,
        Permission.VIEW_AGENTS,
        Permission.VIEW_MODELS,
        Permission.VIEW_MEMORY,
        Permission.VIEW_ACTIVE_TASKS,
        Permission.VIEW_WORKFLOWS,
        Permission.VIEW_BUDGETS,
        Permission.VIEW_SYSTEM_HEALTH,
        Permission.VIEW_CRON_JOBS,
    }
)

BUILTIN_ROLES: dict[str, frozenset[Permission]] = {
    "Admin": ALL_PERMISSIONS,
    "Operator": MEMBER
    | VIEWER
    | {
        Permission.APPROVE_ACTIONS,
        Permission.CANCEL_TASKS,
        Permission.MANAGE_NODES,
        Permission.MANAGE_OPERATIONS,
    },
    "Member": MEMBER,
    "Viewer": VIEWER,
}

BUILTIN_DESCRIPTIONS = {
    "Admin": "Every permission: users, roles, tenants, audit, licence, compliance, settings.",
    "Operator": "A Member who also runs operations: approves actions, cancels any task, "
    "manages Nodes, pauses and drains, and reads what a Viewer reads.",
    "Member": "Uses the product: chats with agents, keeps their own sessions, tasks and "
    "memories; sees the agents and the model catalog.",
    "Viewer": "Read-only access; cannot chat.",
}


def require_known(names: list[str]) -> frozenset[Permission]:
    """The permissions named; any unknown name is a 422 naming every one of them."""
    known, unknown = parse_permissions(names)
    if unknown:
        raise ValidationFailed(
            f"Unknown permissions: {', '.join(unknown)}.", {"permissions": unknown}
        )
    return known


def parse_permissions(names: list[str]) -> tuple[frozenset[Permission], list[str]]:
    """The known permissions among `names`, and the unknown names."""
    known = {p.value: p for p in Permission}
    unknown = [n for n in names if n not in known]
    return frozenset(known[n] for n in names if n in known), unknown
