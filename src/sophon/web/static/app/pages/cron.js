// Cron jobs: the tenant's schedules with run now / pause / resume / delete, a form to add one
// (agent, webhook or code action) and each job's history with its next fire times.
import { useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api, enc } from "../lib/api.js";
import { can } from "../lib/session.js";
import { ConfirmButton, ErrorBox, Field, ListState, PageHead, Status, Time, useAction, useAsync, usePaged, toast } from "../lib/ui.js";

const EMPTY = { name: "", scheduleType: "recurring", expression: "0 9 * * MON-FRI", timezone: "", type: "agent", agentId: "default", message: "", url: "", source: "" };

function action(form) {
  if (form.type === "webhook") return { type: "webhook", url: form.url };
  if (form.type === "code") return { type: "code", language: "python", source: form.source };
  return { type: "agent", agentId: form.agentId, message: form.message };
}

function AddJob({ onAdded }) {
  const [form, setForm] = useState(EMPTY);
  const bind = (key) => ({ value: form[key], onInput: (e) => setForm({ ...form, [key]: e.target.value }) });
  const add = useAction(async () => {
    const body = { name: form.name, scheduleType: form.scheduleType, expression: form.expression, action: action(form) };
    if (form.timezone) body.timezone = form.timezone;
    const job = await api.post("/api/cron", body);
    setForm(EMPTY);
    onAdded();
    toast(job.status === "PendingApproval" ? "Added; it waits for an approval." : "Added.");
    return job;
  });
  return html`<form class="card stack" onSubmit=${(e) => { e.preventDefault(); add.run(); }}>
    <h2>New cron job</h2>
    <${ErrorBox} error=${add.error} title="Not added" />
    ${add.result && add.result.signingSecret && html`<p class="notice" role="status">Webhook signing secret, shown only once:
      <code class="secret">${add.result.signingSecret}</code></p>`}
    <div class="grid">
      <${Field} label="Job name"><input required ...${bind("name")} /></${Field}>
      <${Field} label="Schedule type"><select value=${form.scheduleType} onChange=${(e) => setForm({ ...form, scheduleType: e.target.value })}>
        <option value="recurring">Recurring (cron)</option><option value="one-shot">One-shot (date and time)</option><option value="interval">Interval</option>
      </select></${Field}>
      <${Field} label="Schedule expression" hint="0 9 * * MON-FRI · 2026-12-24T18:00:00Z · 15m"><input required ...${bind("expression")} /></${Field}>
      <${Field} label="Time zone" hint="IANA name; empty: UTC."><input placeholder="Europe/Berlin" ...${bind("timezone")} /></${Field}>
      <${Field} label="Action"><select value=${form.type} onChange=${(e) => setForm({ ...form, type: e.target.value })}>
        <option value="agent">Ask an agent</option><option value="webhook">Call a webhook</option><option value="code">Run Python in the sandbox</option>
      </select></${Field}>
    </div>
    ${form.type === "agent" && html`<div class="grid">
      <${Field} label="Agent" hint="Name or id."><input required ...${bind("agentId")} /></${Field}>
      <${Field} label="Message"><input required ...${bind("message")} /></${Field}></div>`}
    ${form.type === "webhook" && html`<${Field} label="Webhook URL"><input type="url" required ...${bind("url")} /></${Field}>`}
    ${form.type === "code" && html`<${Field} label="Python source"><textarea required rows="5" ...${bind("source")}></textarea></${Field}>`}
    <div><button type="submit" disabled=${add.busy}>Add job</button></div>
  </form>`;
}

function Runs({ job }) {
  const runs = usePaged(`/api/cron/${enc(job.id)}/history`, {}, [job.id]);
  const detail = useAsync(() => api.get(`/api/cron/${enc(job.id)}`, { query: { preview: 5 } }), [job.id]);
  return html`<section class="card stack" aria-label=${"History of " + job.name}>
    <h2>${job.name}</h2>
    ${detail.data && detail.data.preview && html`<p class="small">Next: ${detail.data.preview.map((t, i) => html`${i ? ", " : ""}<${Time} value=${t} />`)}</p>`}
    <${ListState} list=${runs} empty="No runs yet.">
      <div class="table-wrap"><table>
        <thead><tr><th>Scheduled for</th><th>Fired</th><th>Status</th><th>Trigger</th><th>ms</th><th>Task</th></tr></thead>
        <tbody>${runs.items.map((r) => html`<tr key=${r.id}>
          <td><${Time} value=${r.scheduledFor} /></td><td><${Time} value=${r.firedAt} /></td>
          <td><${Status} value=${r.status} />${r.error && html`<div class="small">${r.error}</div>`}</td>
          <td>${r.trigger}</td><td>${r.durationMs ?? ""}</td>
          <td>${r.taskId && html`<a href=${"/tasks/" + r.taskId}>${r.taskId}</a>`}</td></tr>`)}</tbody>
      </table></div>
    </${ListState}>
  </section>`;
}

export default function CronJobs() {
  const jobs = usePaged("/api/cron");
  const [shown, setShown] = useState(null);
  const manage = can("ManageCronJobs");
  const act = useAction(async (job, verb) => {
    if (verb === "delete") await api.del(`/api/cron/${enc(job.id)}`);
    else await api.post(`/api/cron/${enc(job.id)}/${verb}`);
    toast({ trigger: "Started.", pause: "Paused.", resume: "Resumed.", delete: "Deleted." }[verb]);
    if (verb === "delete" && shown && shown.id === job.id) setShown(null);
    jobs.reload();
  });
  return html`<${PageHead} title="Cron jobs" />
    ${manage && html`<${AddJob} onAdded=${() => jobs.reload()} />`}
    <${ErrorBox} error=${act.error} />
    <${ListState} list=${jobs} empty="No cron jobs yet.">
      <div class="table-wrap"><table>
        <thead><tr><th>Job</th><th>Schedule</th><th>Action</th><th>Status</th><th>Next run</th><th>Last</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>${jobs.items.map((j) => html`<tr key=${j.id}>
          <td>${j.name}<div class="small muted">${j.id}</div></td>
          <td><code>${j.expression}</code><div class="small muted">${j.scheduleType} · ${j.timezone}</div></td>
          <td>${j.action.type}</td>
          <td><${Status} value=${j.status} />${j.approvalId && html`<div class="small"><a href="/approvals">Approve</a></div>`}</td>
          <td><${Time} value=${j.nextRunAt} /></td>
          <td>${j.lastStatus || ""}</td>
          <td><div class="row">
            <button type="button" class="secondary" onClick=${() => setShown(j)}>History</button>
            ${manage && html`<button type="button" class="secondary" disabled=${j.status === "PendingApproval"} onClick=${() => act.run(j, "trigger")}>Run now</button>
            ${j.enabled
              ? html`<button type="button" class="secondary" onClick=${() => act.run(j, "pause")}>Pause</button>`
              : html`<button type="button" class="secondary" onClick=${() => act.run(j, "resume")}>Resume</button>`}
            <${ConfirmButton} onConfirm=${() => act.run(j, "delete")} label=${"Delete " + j.name + "?"}>Delete</${ConfirmButton}>`}
          </div></td>
        </tr>`)}</tbody>
      </table></div>
    </${ListState}>
    ${shown && html`<${Runs} job=${shown} />`}`;
}
