// The route table: one line per page. `page` loads the page's module on first visit (so the
// first load fetches only its own page); `any` lists permissions of which the user needs one to
// see the page (omitted: every signed-in user); `nav` names the navigation group (omitted: not
// in the menu); `feature` names a licence feature the page needs. A page module default-exports a component that receives {params, query}.
export const routes = [
  { path: "/chat", title: "Chat", nav: "Use", any: ["UseChat"], page: () => import("./pages/chat.js") },
  { path: "/chat/:sessionId", title: "Chat", any: ["UseChat"], page: () => import("./pages/chat.js") },
  { path: "/approvals", title: "Approvals", nav: "Use", any: ["UseChat", "ApproveActions"], page: () => import("./pages/approvals.js") },
  { path: "/tasks", title: "Tasks", nav: "Use", any: ["UseChat", "ViewActiveTasks"], page: () => import("./pages/tasks.js") },
  { path: "/tasks/:id", title: "Task", any: ["UseChat", "ViewActiveTasks"], page: () => import("./pages/task.js") },
  { path: "/documents", title: "Documents", nav: "Use", any: ["UseChat", "ManageDocuments"], page: () => import("./pages/documents.js") },
  { path: "/memory", title: "Memory", nav: "Use", any: ["ViewMemory", "ManageMemory"], page: () => import("./pages/memory.js") },
  { path: "/agents", title: "Agents", nav: "Build", any: ["ViewAgents", "ManageAgents"], page: () => import("./pages/agents.js") },
  { path: "/agents/:id", title: "Agent", any: ["ViewAgents", "ManageAgents"], page: () => import("./pages/agent.js") },
  { path: "/skills", title: "Skills", nav: "Build", any: ["ManageSkills"], page: () => import("./pages/skills.js") },
  { path: "/cron", title: "Cron jobs", nav: "Build", any: ["ManageCronJobs", "ViewCronJobs"], page: () => import("./pages/cron.js") },
  { path: "/workflows", title: "Workflows", nav: "Build", any: ["ViewWorkflows", "ManageWorkflows"], page: () => import("./pages/workflows.js") },
  { path: "/workflows/:id", title: "Workflow", any: ["ViewWorkflows", "ManageWorkflows"], page: () => import("./pages/workflows.js") },
  { path: "/models", title: "Models", nav: "Build", any: ["ViewModels", "ManageModels"], page: () => import("./pages/models.js") },
  { path: "/settings/connections", title: "Connections", nav: "Build", any: ["ManageConnections"], page: () => import("./pages/connections.js") },
  { path: "/settings/mcp", title: "MCP", nav: "Build", any: ["ManageMcp"], page: () => import("./pages/mcp.js") },
  { path: "/admin/users", title: "Users", nav: "Admin", any: ["ViewUsers", "ManageUsers"], page: () => import("./pages/admin-users.js") },
  { path: "/admin/roles", title: "Roles", nav: "Admin", any: ["ViewUsers", "ManageRoles"], page: () => import("./pages/admin-roles.js") },
  { path: "/admin/tokens", title: "API tokens", nav: "Admin", page: () => import("./pages/admin-tokens.js") },
  { path: "/admin/tenants", title: "Tenants", nav: "Admin", any: ["ManageTenants"], feature: "multi_tenancy", page: () => import("./pages/admin-tenants.js") },
  { path: "/admin/license", title: "Licence", nav: "Admin", any: ["ManageLicense"], page: () => import("./pages/admin-license.js") },
  { path: "/admin/audit", title: "Audit log", nav: "Admin", any: ["ViewAudit"], page: () => import("./pages/admin-audit.js") },
  { path: "/webhooks", title: "Webhooks", nav: "Build", any: ["ManageWebhooks"], page: () => import("./pages/webhooks.js") },
  { path: "/operations", title: "Operations", nav: "Operations", any: ["ViewSystemHealth", "ManageOperations"], page: () => import("./pages/operations.js") },
  { path: "/account", title: "Account", page: () => import("./pages/account.js") },
];
