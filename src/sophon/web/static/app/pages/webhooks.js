// Webhooks: outbound endpoints and inbound receivers, their deliveries (or receipts) with every
// attempt, test, retry, secret rotation (the secret is shown once) and deletion.
import { useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api, enc } from "../lib/api.js";
import { can } from "../lib/session.js";
import {
  ConfirmButton, ErrorBox, Field, Json, ListState, PageHead, Status, Time, toast, useAction, usePaged,
} from "../lib/ui.js";

const SCHEMES = ["sophon", "github", "stripe", "slack", "standard"];
const EMPTY = {
  kind: "outbound", name: "", url: "", eventTypes: "task.*", slug: "", scheme: "sophon",
  agentId: "", messageTemplate: "",
};

function body(form) {
  if (form.kind === "outbound") {
    const eventTypes = form.eventTypes.split(",").map((s) => s.trim()).filter(Boolean);
    return { kind: "outbound", name: form.name, url: form.url, eventTypes };
  }
  const action = { type: "agent" };
  if (form.agentId) action.agentId = form.agentId;
  if (form.messageTemplate) action.messageTemplate = form.messageTemplate;
  const made = { kind: "inbound", name: form.name, scheme: form.scheme, action };
  if (form.slug) made.slug = form.slug;
  return made;
}

function Secret({ webhook, onDone }) {
  return html`<div class="card stack" role="region" aria-label="New secret">
    <p><strong>Secret of ${webhook.name}</strong> (shown only now; store it where your receiver can
      read it):</p>
    <code aria-label="Secret">${webhook.secret}</code>
    ${webhook.receiveUrl && html`<p>Receive URL: <code>${location.origin + webhook.receiveUrl}</code></p>`}
    <div><button type="button" class="secondary" onClick=${onDone}>I stored it</button></div>
  </div>`;
}

function CreateWebhook({ onCreated }) {
  const [form, setForm] = useState(EMPTY);
  const create = useAction(async () => {
    const made = await api.post("/api/webhooks", body(form));
    setForm(EMPTY);
    onCreated(made);
  });
  const bind = (key) => ({ value: form[key], onInput: (e) => setForm({ ...form, [key]: e.target.value }) });
  const outbound = form.kind === "outbound";
  return html`<form class="card stack" onSubmit=${(e) => { e.preventDefault(); create.run(); }}>
    <h2>New webhook</h2>
    <${ErrorBox} error=${create.error} title="The webhook was not created" />
    <div class="grid">
      <${Field} label="Kind">
        <select value=${form.kind} onChange=${(e) => setForm({ ...form, kind: e.target.value })}>
          <option value="outbound">Outbound (Sophon posts events)</option>
          <option value="inbound">Inbound (runs an agent)</option>
        </select>
      </${Field}>
      <${Field} label="Name"><input required ...${bind("name")} /></${Field}>
      ${outbound ? html`
        <${Field} label="URL"><input type="url" required ...${bind("url")} /></${Field}>
        <${Field} label="Event types" hint="Comma-separated: exact names or family.*">
          <input required ...${bind("eventTypes")} /></${Field}>` : html`
        <${Field} label="Slug" hint="Empty: generated."><input ...${bind("slug")} /></${Field}>
        <${Field} label="Signature scheme">
          <select value=${form.scheme} onChange=${(e) => setForm({ ...form, scheme: e.target.value })}>
            ${SCHEMES.map((s) => html`<option value=${s}>${s}</option>`)}
          </select>
        </${Field}>
        <${Field} label="Agent" hint="Id or name; empty: the default agent."><input ...${bind("agentId")} /></${Field}>
        <${Field} label="Message template" hint="e.g. A push: {{$trigger.body.head_commit.message}}">
          <input ...${bind("messageTemplate")} /></${Field}>`}
    </div>
    <div><button type="submit" disabled=${create.busy}>Create webhook</button></div>
  </form>`;
}

function Deliveries({ webhook }) {
  const list = usePaged(`/api/webhooks/${enc(webhook.id)}/deliveries`, {}, [webhook.id]);
  const [open, setOpen] = useState(null);
  const show = useAction(async (id) => setOpen(await api.get(`/api/webhooks/${enc(webhook.id)}/deliveries/${enc(id)}`)));
  const retry = useAction(async (id) => {
    await api.post(`/api/webhooks/${enc(webhook.id)}/deliveries/${enc(id)}/retry`);
    toast("Delivery queued again.");
    list.reload();
  });
  const outbound = webhook.kind === "outbound";
  return html`<section class="stack" aria-label=${"Deliveries of " + webhook.name}>
    <h3>${outbound ? "Deliveries" : "Receipts"}</h3>
    <${ErrorBox} error=${retry.error || show.error} />
    <div><button type="button" class="secondary" onClick=${list.reload}>Refresh</button></div>
    <${ListState} list=${list} empty=${outbound ? "No deliveries yet." : "Nothing received yet."}>
      <div class="table-wrap"><table>
        <thead><tr><th>Id</th><th>${outbound ? "Event" : "Task"}</th><th>Status</th><th>Attempts</th>
          <th>Last code</th><th>Created</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>${list.items.map((d) => html`<tr key=${d.id}>
          <td><button type="button" class="secondary" onClick=${() => show.run(d.id)}>${d.id}</button></td>
          <td>${outbound ? d.eventType : d.taskId || html`<span class="muted">—</span>`}</td>
          <td><${Status} value=${d.status} /></td>
          <td>${d.attempts}</td>
          <td>${d.lastStatusCode ?? "—"}</td>
          <td><${Time} value=${d.createdAt} /></td>
          <td>${outbound && d.status !== "Pending" && html`<button type="button" class="secondary"
            aria-label=${"Retry " + d.id} onClick=${() => retry.run(d.id)}>Retry</button>`}</td>
        </tr>`)}</tbody>
      </table></div>
    </${ListState}>
    ${open && html`<div class="card stack" role="region" aria-label=${"Delivery " + open.id}>
      <h3>Delivery ${open.id}</h3>
      ${open.attemptLog && html`<${Json} value=${open.attemptLog} />`}
      ${open.payload && html`<${Json} value=${open.payload} />`}
      ${!outbound && html`<${Json} value=${open} />`}
    </div>`}
  </section>`;
}

function Detail({ webhook, onChanged, onSecret }) {
  const path = `/api/webhooks/${enc(webhook.id)}`;
  const test = useAction(async () => {
    await api.post(path + "/test");
    toast("Test event queued.");
  });
  const rotate = useAction(async () => onSecret(await api.post(path + "/rotate-secret")));
  const toggle = useAction(async () => {
    await api.patch(path, { enabled: !webhook.enabled });
    onChanged();
  });
  const remove = useAction(async () => {
    await api.del(path);
    toast("Webhook deleted.");
    onChanged(true);
  });
  return html`<div class="card stack" role="region" aria-label=${"Webhook " + webhook.name}>
    <h2>${webhook.name} <${Status} value=${webhook.status} /></h2>
    <p class="muted">${webhook.kind === "outbound" ? webhook.url : location.origin + webhook.receiveUrl}
      ${webhook.kind === "outbound" && ` · ${webhook.eventTypes.join(", ")}`}
      ${webhook.scheme && ` · scheme ${webhook.scheme}`}</p>
    <${ErrorBox} error=${test.error || rotate.error || toggle.error || remove.error} />
    <div class="row">
      ${webhook.kind === "outbound" && html`<button type="button" onClick=${test.run} disabled=${test.busy}>Send test</button>`}
      <button type="button" class="secondary" onClick=${toggle.run}>${webhook.enabled ? "Disable" : "Enable"}</button>
      <button type="button" class="secondary" onClick=${rotate.run}>Rotate secret</button>
      <${ConfirmButton} onConfirm=${remove.run}>Delete webhook</${ConfirmButton}>
    </div>
    <${Deliveries} webhook=${webhook} />
  </div>`;
}

export default function Webhooks() {
  const list = usePaged("/api/webhooks");
  const [selected, setSelected] = useState(null);
  const [secret, setSecret] = useState(null);
  const current = list.items.find((w) => w.id === selected);
  const manage = can("ManageWebhooks");
  return html`<${PageHead} title="Webhooks" />
    ${secret && html`<${Secret} webhook=${secret} onDone=${() => setSecret(null)} />`}
    ${manage && html`<${CreateWebhook} onCreated=${(made) => { setSecret(made); setSelected(made.id); list.reload(); }} />`}
    <${ListState} list=${list} empty="No webhooks yet.">
      <div class="table-wrap"><table>
        <thead><tr><th>Name</th><th>Kind</th><th>Status</th><th>Target</th><th>Failures</th>
          <th>Last delivery</th></tr></thead>
        <tbody>${list.items.map((w) => html`<tr key=${w.id}>
          <td><button type="button" class="secondary" onClick=${() => setSelected(w.id)}>${w.name}</button></td>
          <td>${w.kind}</td>
          <td><${Status} value=${w.status} /></td>
          <td class="small">${w.url || w.receiveUrl}</td>
          <td>${w.failureCount}</td>
          <td><${Time} value=${w.lastDeliveryAt} /></td>
        </tr>`)}</tbody>
      </table></div>
    </${ListState}>
    ${current && html`<${Detail} key=${current.id} webhook=${current} onSecret=${setSecret}
      onChanged=${(gone) => { if (gone) setSelected(null); list.reload(); }} />`}`;
}
