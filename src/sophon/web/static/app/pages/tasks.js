// Tasks: the active ones live over /hubs/tasks, with cancel; the history with filters.
import { useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api, enc } from "../lib/api.js";
import { useHub } from "../lib/hub.js";
import { can } from "../lib/session.js";
import { ErrorBox, Field, ListState, PageHead, Status, Tabs, Time, useAction, usePaged, toast } from "../lib/ui.js";

function TaskRows({ items, cancel }) {
  return html`<div class="table-wrap"><table>
    <thead><tr><th>Task</th><th>Status</th><th>Started</th><th>Tokens</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
    <tbody>${items.map((t) => html`<tr key=${t.id}>
      <td><a href=${"/tasks/" + t.id}>${t.description || t.id}</a><div class="small muted">${t.kind} · ${t.id}</div></td>
      <td><${Status} value=${t.status} />${t.error && html`<div class="small">${t.error}</div>`}</td>
      <td><${Time} value=${t.startedAt || t.createdAt} /></td>
      <td>${t.tokensUsed}</td>
      <td>${cancel && (t.status === "Queued" || t.status === "Running") &&
        html`<button type="button" class="danger" onClick=${() => cancel.run(t.id)}>Cancel</button>`}</td>
    </tr>`)}</tbody>
  </table></div>`;
}

function Active() {
  const list = usePaged("/api/tasks/active");
  const update = (e) =>
    list.setItems((items) => {
      const known = items.find((t) => t.id === e.taskId);
      if (!known) {
        list.reload();
        return items;
      }
      const status = { TaskStarted: "Running" }[e.__name] || known.status;
      return items.map((t) => (t.id === e.taskId ? { ...t, status } : t));
    });
  const done = (e) => list.setItems((items) => items.filter((t) => t.id !== e.taskId));
  const hub = useHub("tasks", {
    TaskQueued: () => list.reload(),
    TaskStarted: (e) => update({ ...e, __name: "TaskStarted" }),
    TaskCompleted: done, TaskFailed: done, TaskCancelled: done,
  });
  const cancel = useAction(async (id) => {
    await api.post(`/api/tasks/${enc(id)}/cancel`);
    toast("Cancel requested.");
  });
  return html`<p class="small muted" role="status">${hub.state === "connected" ? "Live" : hub.state}</p>
    <${ErrorBox} error=${cancel.error} />
    <${ListState} list=${list} empty="No task is running.">
      <${TaskRows} items=${list.items} cancel=${can("UseChat", "CancelTasks") ? cancel : null} />
    </${ListState}>`;
}

function History() {
  const [filters, setFilters] = useState({ status: "", text: "", since: "", until: "" });
  const [applied, setApplied] = useState(filters);
  const query = {
    status: applied.status, text: applied.text,
    since: applied.since ? new Date(applied.since).toISOString() : "",
    until: applied.until ? new Date(applied.until).toISOString() : "",
  };
  const list = usePaged("/api/tasks/history", query);
  const bind = (key) => ({ value: filters[key], onInput: (e) => setFilters({ ...filters, [key]: e.target.value }) });
  return html`<form class="row filters" onSubmit=${(e) => { e.preventDefault(); setApplied(filters); }}>
      <${Field} label="Status"><select ...${bind("status")} onChange=${(e) => setFilters({ ...filters, status: e.target.value })}>
        <option value="">Any</option><option>Completed</option><option>Failed</option><option>Cancelled</option>
      </select></${Field}>
      <${Field} label="Text"><input type="search" ...${bind("text")} /></${Field}>
      <${Field} label="Since"><input type="datetime-local" ...${bind("since")} /></${Field}>
      <${Field} label="Until"><input type="datetime-local" ...${bind("until")} /></${Field}>
      <button type="submit">Filter</button>
    </form>
    <${ListState} list=${list} empty="No finished tasks match.">
      <${TaskRows} items=${list.items} />
    </${ListState}>`;
}

export default function Tasks() {
  const [tab, setTab] = useState("active");
  return html`<${PageHead} title="Tasks" />
    <${Tabs} label="Tasks" current=${tab} onSelect=${setTab} tabs=${[["active", "Active"], ["history", "History"]]}>
      ${tab === "active" ? html`<${Active} />` : html`<${History} />`}
    </${Tabs}>`;
}
