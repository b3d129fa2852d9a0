// One task: its status, log, tool calls, plan and child tasks; cancel while it runs.
import { html } from "../lib/html.js";
import { api, enc } from "../lib/api.js";
import { useHub } from "../lib/hub.js";
import { can } from "../lib/session.js";
import { ErrorBox, Json, Loading, PageHead, Status, Time, useAction, useAsync } from "../lib/ui.js";

export default function Task({ params }) {
  const task = useAsync(() => api.get(`/api/tasks/${enc(params.id)}`), [params.id]);
  const mine = (e) => e.taskId === params.id && task.reload();
  useHub("tasks", { TaskStarted: mine, TaskCompleted: mine, TaskFailed: mine, TaskCancelled: mine });
  const cancel = useAction(async () => {
    await api.post(`/api/tasks/${enc(params.id)}/cancel`);
    task.reload();
  });
  const t = task.data;
  return html`<${PageHead} title=${t ? t.description || "Task" : "Task"}>
      ${t && (t.status === "Running" || t.status === "Queued") && can("UseChat", "CancelTasks") &&
      html`<button type="button" class="danger" onClick=${() => cancel.run()}>Cancel</button>`}
    </${PageHead}>
    <${ErrorBox} error=${task.error || cancel.error} />
    ${task.loading && !t && html`<${Loading} />`}
    ${t && html`<section class="card">
        <p><${Status} value=${t.status} /> <code>${t.id}</code> · ${t.kind}
          ${t.sessionId && html` · <a href=${"/chat/" + t.sessionId}>session</a>`}</p>
        <p class="small">Created <${Time} value=${t.createdAt} /> · started <${Time} value=${t.startedAt} /> ·
          finished <${Time} value=${t.finishedAt} /> · ${t.durationMs ?? "—"} ms · ${t.tokensUsed} tokens</p>
        ${t.error && html`<p class="error">${t.errorCode ? t.errorCode + ": " : ""}${t.error}</p>`}
        ${t.parentTaskId && html`<p>Parent: <a href=${"/tasks/" + t.parentTaskId}>${t.parentTaskId}</a></p>`}
      </section>
      <section class="card"><h2>Log</h2>
        ${t.log.length === 0 ? html`<p class="empty">No log entries.</p>` : html`<ol class="log">
          ${t.log.map((entry, i) => html`<li key=${i}><${Json} value=${entry} /></li>`)}</ol>`}
      </section>
      <section class="card"><h2>Tool calls</h2>
        ${t.toolCalls.length === 0 ? html`<p class="empty">No tool calls.</p>` : t.toolCalls.map(
          (c) => html`<details key=${c.id} class="tool-call"><summary><span class="tool-name">${c.name}</span>
            <${Status} value=${c.riskLevel} /> <span class="small muted">${c.status}</span></summary>
            <${Json} value=${c.arguments} />${c.result != null && html`<pre class="result" tabindex="0">${c.result}</pre>`}</details>`)}
      </section>
      ${t.plan && html`<section class="card"><h2>Plan</h2><${Json} value=${t.plan} /></section>`}
      <section class="card"><h2>Child tasks</h2>
        ${t.children.length === 0 ? html`<p class="empty">None.</p>` : html`<ul>${t.children.map(
          (id) => html`<li key=${id}><a href=${"/tasks/" + id}>${id}</a></li>`)}</ul>`}
      </section>`}`;
}
