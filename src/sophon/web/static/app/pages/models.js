// Models: providers (add, edit, test with the result shown, priority, status) and the catalog.
import { useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api, enc } from "../lib/api.js";
import { can } from "../lib/session.js";
import {
  ConfirmButton, Dialog, ErrorBox, Field, ListState, PageHead, Status, Tabs, Time, useAction, usePaged, toast,
} from "../lib/ui.js";

const EMPTY = { name: "", type: "openai", baseUrl: "", apiKey: "", priority: 1, defaultModel: "", status: "Active" };

function ProviderForm({ provider, onSaved, onCancel }) {
  const [form, setForm] = useState(provider ? {
    name: provider.name, type: provider.providerType, baseUrl: provider.baseUrl || "", apiKey: "",
    priority: provider.priority, defaultModel: provider.defaultModel || "", status: provider.status === "Inactive" ? "Inactive" : "Active",
  } : EMPTY);
  const save = useAction(async () => {
    const body = { ...form, priority: Number(form.priority) };
    for (const key of ["baseUrl", "apiKey", "defaultModel"]) if (!body[key]) delete body[key];
    const out = provider
      ? await api.patch(`/api/models/providers/${enc(provider.id)}`, { ...body, type: undefined })
      : await api.post("/api/models/providers", body);
    toast(`Provider ${out.name} saved.`);
    onSaved(out);
  });
  const bind = (key) => ({ value: form[key], onInput: (e) => setForm({ ...form, [key]: e.target.value }) });
  return html`<form class="stack" onSubmit=${(e) => { e.preventDefault(); save.run(); }}>
    <${ErrorBox} error=${save.error} title="Not saved" />
    <div class="grid">
      <${Field} label="Name"><input required ...${bind("name")} /></${Field}>
      <${Field} label="Type"><select disabled=${!!provider} value=${form.type} onChange=${(e) => setForm({ ...form, type: e.target.value })}>
        <option value="openai">OpenAI-compatible</option><option value="anthropic">Anthropic</option><option value="echo">Echo (offline)</option>
      </select></${Field}>
      <${Field} label="Base URL" hint="e.g. http://127.0.0.1:11434/v1 for Ollama"><input ...${bind("baseUrl")} /></${Field}>
      <${Field} label="API key" hint=${provider ? `Stored: ${provider.apiKey || "none"}; empty keeps it.` : "Stored encrypted; shown masked."}>
        <input type="password" autocomplete="off" ...${bind("apiKey")} /></${Field}>
      <${Field} label="Priority" hint="Lower is tried first."><input type="number" min="0" max="1000" ...${bind("priority")} /></${Field}>
      <${Field} label="Default model"><input ...${bind("defaultModel")} /></${Field}>
      <${Field} label="Status"><select value=${form.status} onChange=${(e) => setForm({ ...form, status: e.target.value })}>
        <option>Active</option><option>Inactive</option></select></${Field}>
    </div>
    <div class="row"><button type="submit" disabled=${save.busy}>${provider ? "Save provider" : "Add provider"}</button>
      ${onCancel && html`<button type="button" class="secondary" onClick=${onCancel}>Cancel</button>`}</div>
  </form>`;
}

function TestResult({ result }) {
  if (!result) return null;
  return html`<div class=${result.ok ? "notice" : "error"} role="status">
    <strong>${result.ok ? "Test passed" : "Test failed"}</strong> in ${Math.round(result.latencyMs)} ms
    ${result.model && html` · model <code>${result.model}</code>`}
    ${result.reply && html`<div class="small">Reply: ${result.reply}</div>`}
    ${result.error && html`<div class="small">${result.error.code}: ${result.error.message}</div>`}
    ${result.models.length > 0 && html`<div class="small">Models: ${result.models.join(", ")}</div>`}
  </div>`;
}

function Providers() {
  const list = usePaged("/api/models/providers");
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState(null);
  const [results, setResults] = useState({});
  const test = useAction(async (id) => {
    const out = await api.post(`/api/models/providers/${enc(id)}/test`);
    setResults((r) => ({ ...r, [id]: out }));
    list.reload();
  });
  const remove = useAction(async (id) => {
    await api.del(`/api/models/providers/${enc(id)}`);
    list.reload();
  });
  const manage = can("ManageModels");
  return html`<div class="stack">
    ${manage && !adding && html`<div><button type="button" onClick=${() => setAdding(true)}>Add provider</button></div>`}
    ${adding && html`<section class="card"><h2>New provider</h2>
      <${ProviderForm} onSaved=${() => { setAdding(false); list.reload(); }} onCancel=${() => setAdding(false)} /></section>`}
    <${ErrorBox} error=${test.error || remove.error} />
    <${ListState} list=${list} empty="No provider yet: the offline echo model answers.">
      ${list.items.map((p) => html`<section class="card" key=${p.id} aria-label=${`Provider ${p.name}`}>
        <div class="row"><h2>${p.name}</h2><${Status} value=${p.status} /><span class="badge">${p.providerType}</span>
          <span class="small muted">priority ${p.priority}</span></div>
        <p class="small">${p.baseUrl || "default endpoint"} · key ${p.apiKey || "none"} · default model ${p.defaultModel || "—"}
          · ${p.models.length} models · last tested <${Time} value=${p.lastTestedAt} />
          ${p.lastLatencyMs != null && html` (${Math.round(p.lastLatencyMs)} ms)`}</p>
        ${p.lastError && html`<p class="small error">${p.lastError}</p>`}
        <${TestResult} result=${results[p.id]} />
        ${manage && html`<div class="row">
          <button type="button" disabled=${test.busy} onClick=${() => test.run(p.id)}>Test</button>
          <button type="button" class="secondary" onClick=${() => setEditing(p)}>Edit</button>
          <${ConfirmButton} onConfirm=${() => remove.run(p.id)} label="Delete this provider?">Delete</${ConfirmButton}>
        </div>`}
      </section>`)}
    </${ListState}>
    <${Dialog} open=${!!editing} title=${editing ? `Edit ${editing.name}` : ""} onClose=${() => setEditing(null)}>
      ${editing && html`<${ProviderForm} provider=${editing} onSaved=${() => { setEditing(null); list.reload(); }} onCancel=${() => setEditing(null)} />`}
    </${Dialog}>
  </div>`;
}

function Catalog() {
  const list = usePaged("/api/models");
  return html`<${ListState} list=${list} empty="No models.">
    <div class="table-wrap"><table>
      <thead><tr><th>Model</th><th>Provider</th><th>Context</th><th>Capabilities</th></tr></thead>
      <tbody>${list.items.map((m) => html`<tr key=${m.ref}>
        <td><code>${m.ref}</code>${m.displayName && html`<div class="small">${m.displayName}</div>`}</td>
        <td>${m.provider} <${Status} value=${m.providerStatus} /></td>
        <td>${m.contextWindow ?? "—"}</td>
        <td class="small">${Object.entries(m.capabilities || {}).filter(([, v]) => v).map(([k]) => k).join(", ")}</td>
      </tr>`)}</tbody>
    </table></div>
  </${ListState}>`;
}

export default function Models() {
  const [tab, setTab] = useState(can("ManageModels") ? "providers" : "catalog");
  const tabs = [...(can("ManageModels") ? [["providers", "Providers"]] : []), ["catalog", "Catalog"]];
  return html`<${PageHead} title="Models" />
    <${Tabs} label="Models" current=${tab} onSelect=${setTab} tabs=${tabs}>
      ${tab === "providers" ? html`<${Providers} />` : html`<${Catalog} />`}
    </${Tabs}>`;
}
