// Workflows: the list and importing one (definition JSON, validated with the problem's node and
// field shown); one workflow: enable/disable, pause/resume, run with input, its versions (restore)
// and runs; one run: its node records, live over /hubs/tasks, with cancel and retry.
import { useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api, enc } from "../lib/api.js";
import { useHub } from "../lib/hub.js";
import { navigate } from "../lib/router.js";
import { can } from "../lib/session.js";
import {
  ErrorBox, Field, Json, ListState, Loading, PageHead, Status, Time, toast, useAction, useAsync, usePaged,
} from "../lib/ui.js";

const EXAMPLE = JSON.stringify({
  name: "Hello workflow",
  trigger: { type: "manual" },
  nodes: [{ id: "greet", type: "data.transform", config: { output: "Hello {{ $input.name }}" } }],
  edges: [],
}, null, 2);
const LIVE = ["WorkflowRunStarted", "WorkflowNodeStarted", "WorkflowNodeCompleted", "WorkflowRunWaiting",
  "WorkflowRunCompleted", "WorkflowRunFailed"];

function where(error) {
  const d = error && error.details;
  return d && (d.node || d.field) ? ` (node ${d.node || "—"}, field ${d.field || "—"})` : "";
}

function ImportWorkflow() {
  const [text, setText] = useState(EXAMPLE);
  const save = useAction(async () => {
    let body;
    try { body = JSON.parse(text); } catch (e) { throw new Error("The definition is not JSON: " + e.message); }
    const made = await api.post("/api/workflows/import", body);
    navigate("/workflows/" + made.id);
  });
  return html`<form class="card stack" onSubmit=${(e) => { e.preventDefault(); save.run(); }}>
    <h2>New workflow</h2>
    <${ErrorBox} error=${save.error} title=${"The workflow was not saved" + where(save.error)} />
    <${Field} label="Definition (JSON)" hint="Node types and their configs: GET /api/workflows/node-types.">
      <textarea rows="10" value=${text} onInput=${(e) => setText(e.target.value)} /></${Field}>
    <div><button type="submit" disabled=${save.busy}>Save workflow</button></div>
  </form>`;
}

function List() {
  const list = usePaged("/api/workflows");
  return html`<${PageHead} title="Workflows" />
    ${can("ManageWorkflows") && html`<${ImportWorkflow} />`}
    <${ListState} list=${list} empty="No workflows yet.">
      <div class="table-wrap"><table>
        <thead><tr><th>Name</th><th>Trigger</th><th>State</th><th>Risk</th><th>Version</th><th>Updated</th></tr></thead>
        <tbody>${list.items.map((w) => html`<tr key=${w.id}>
          <td><a href=${"/workflows/" + w.id}>${w.name}</a><div class="small muted">${w.description}</div></td>
          <td>${w.triggerType}</td>
          <td>${w.paused ? "paused" : w.enabled ? "enabled" : "disabled"}${w.approval === "Pending" &&
            html` <span class="badge">awaiting approval</span>`}</td>
          <td><${Status} value=${w.risk} /></td>
          <td>${w.version}</td>
          <td><${Time} value=${w.updatedAt} /></td>
        </tr>`)}</tbody>
      </table></div>
    </${ListState}>`;
}

function Run({ workflowId, runId }) {
  const run = useAsync(() => api.get(`/api/workflows/${enc(workflowId)}/runs/${enc(runId)}`), [runId]);
  const mine = (e) => e.runId === runId && run.reload();
  useHub("tasks", Object.fromEntries(LIVE.map((name) => [name, mine])));
  const act = useAction(async (what) => {
    const done = await api.post(`/api/workflows/${enc(workflowId)}/runs/${enc(runId)}/${what}`);
    if (what === "retry") navigate(`/workflows/${workflowId}?run=${done.runId}`);
    else run.reload();
  });
  const r = run.data;
  if (!r) return html`<${ErrorBox} error=${run.error} />${run.loading && html`<${Loading} />`}`;
  const active = !["Completed", "Failed", "Cancelled"].includes(r.status);
  return html`<section class="card stack" aria-label="Run">
    <h2>Run <code>${r.id}</code></h2>
    <${ErrorBox} error=${run.error || act.error} />
    <p><${Status} value=${r.status} /> · version ${r.version} · ${r.trigger.type} ·
      <a href=${"/tasks/" + r.taskId}>task</a> · started <${Time} value=${r.startedAt} /></p>
    ${r.error && html`<p class="error">${r.error.nodeId ? r.error.nodeId + ": " : ""}${r.error.message}</p>`}
    ${can("ManageWorkflows") && html`<div class="row">
      ${active && html`<button type="button" class="danger" onClick=${() => act.run("cancel")}>Cancel run</button>`}
      ${(r.status === "Failed" || r.status === "Cancelled") &&
        html`<button type="button" onClick=${() => act.run("retry")}>Retry from the failed node</button>`}
    </div>`}
    <div class="table-wrap"><table>
      <thead><tr><th>Node</th><th>Type</th><th>Attempt</th><th>Status</th><th>Output or error</th></tr></thead>
      <tbody>${r.nodes.map((n) => html`<tr key=${n.id}>
        <td>${n.nodeId}</td><td>${n.nodeType}</td><td>${n.attempt}</td><td><${Status} value=${n.status} /></td>
        <td>${n.error ? html`<span class="error">${n.error.message}</span>` : html`<${Json} value=${n.output} />`}</td>
      </tr>`)}</tbody>
    </table></div>
  </section>`;
}

function Detail({ id, runId }) {
  const wf = useAsync(() => api.get(`/api/workflows/${enc(id)}`), [id]);
  const runs = usePaged(`/api/workflows/${enc(id)}/runs`, {}, [id]);
  const history = usePaged(`/api/workflows/${enc(id)}/history`, {}, [id]);
  const [input, setInput] = useState("{}");
  useHub("tasks", { WorkflowRunStarted: (e) => e.workflowId === id && runs.reload(),
    WorkflowRunCompleted: (e) => e.workflowId === id && runs.reload(),
    WorkflowRunFailed: (e) => e.workflowId === id && runs.reload() });
  const act = useAction(async (path, body) => {
    const done = await api[body === undefined ? "post" : "patch"](`/api/workflows/${enc(id)}${path}`, body);
    wf.reload();
    history.reload();
    return done;
  });
  const start = useAction(async () => {
    let value;
    try { value = JSON.parse(input || "null"); } catch (e) { throw new Error("The input is not JSON: " + e.message); }
    const done = await api.post(`/api/workflows/${enc(id)}/trigger`, { input: value });
    toast("Run started.");
    runs.reload();
    navigate(`/workflows/${id}?run=${done.runId}`);
  });
  const w = wf.data;
  const manage = can("ManageWorkflows");
  return html`<${PageHead} title=${w ? w.name : "Workflow"} />
    <${ErrorBox} error=${wf.error || act.error} />
    ${!w && wf.loading && html`<${Loading} />`}
    ${w && html`<section class="card stack">
      <p><code>${w.id}</code> · ${w.triggerType} trigger · version ${w.version} · risk <${Status} value=${w.risk} /> ·
        ${w.paused ? "paused" : w.enabled ? "enabled" : "disabled"}
        ${w.approval === "Pending" && html` · <a href="/approvals">awaiting approval</a>`}</p>
      ${manage && html`<div class="row">
        <button type="button" class="secondary" onClick=${() => act.run("", { enabled: !w.enabled })}>
          ${w.enabled ? "Disable" : "Enable"}</button>
        <button type="button" class="secondary" onClick=${() => act.run(w.paused ? "/resume" : "/pause")}>
          ${w.paused ? "Resume" : "Pause"}</button>
      </div>
      <form class="row" onSubmit=${(e) => { e.preventDefault(); start.run(); }}>
        <${Field} label="Input (JSON)"><input value=${input} onInput=${(e) => setInput(e.target.value)} /></${Field}>
        <button type="submit" disabled=${start.busy}>Run now</button>
      </form>
      <${ErrorBox} error=${start.error} title="The run did not start" />`}
      <details><summary>Definition</summary><${Json} value=${{ trigger: w.trigger, nodes: w.nodes, edges: w.edges, vars: w.vars }} /></details>
    </section>`}
    ${runId && html`<${Run} workflowId=${id} runId=${runId} />`}
    <section class="card"><h2>Runs</h2>
      <${ListState} list=${runs} empty="No runs yet.">
        <div class="table-wrap"><table>
          <thead><tr><th>Run</th><th>Status</th><th>Trigger</th><th>Started</th><th>Finished</th></tr></thead>
          <tbody>${runs.items.map((r) => html`<tr key=${r.id}>
            <td><a href=${`/workflows/${id}?run=${r.id}`}>${r.id}</a></td><td><${Status} value=${r.status} /></td>
            <td>${r.trigger.type}</td><td><${Time} value=${r.startedAt} /></td><td><${Time} value=${r.finishedAt} /></td>
          </tr>`)}</tbody>
        </table></div>
      </${ListState}>
    </section>
    <section class="card"><h2>Versions</h2>
      <${ListState} list=${history} empty="No versions.">
        <ul>${history.items.map((v) => html`<li key=${v.number}>Version ${v.number} · ${v.summary} ·
          ${v.actorEmail || "system"} · <${Time} value=${v.createdAt} />
          ${manage && w && v.number !== w.version && html` <button type="button" class="secondary"
            onClick=${() => act.run(`/versions/${v.number}/restore`)}>Restore version ${v.number}</button>`}</li>`)}</ul>
      </${ListState}>
    </section>`;
}

export default function Workflows({ params, query }) {
  return params.id ? html`<${Detail} id=${params.id} runId=${query.run} />` : html`<${List} />`;
}
