// One agent: settings (model, temperature, planning, heartbeat, budget), the persona files in
// an editor with version history, diff and restore, and the tool allowlist from the catalog.
import { useEffect, useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api, enc, listAll } from "../lib/api.js";
import { navigate } from "../lib/router.js";
import { can } from "../lib/session.js";
import { Diff } from "../lib/diff.js";
import {
  ConfirmButton, ErrorBox, Field, Loading, PageHead, Status, Tabs, Time, useAction, useAsync, usePaged, toast,
} from "../lib/ui.js";

const FILES = [
  ["soul", "SOUL.md"], ["boot", "BOOT.md"], ["heartbeat", "HEARTBEAT.md"],
  ["tools-guide", "TOOLS.md"], ["agents-guide", "AGENTS.md"],
];

function Settings({ agent, onSaved }) {
  const [form, setForm] = useState({
    name: agent.name, description: agent.description, model: agent.model,
    temperature: agent.temperature, maxTokens: agent.maxTokens, planningMode: agent.planningMode,
    heartbeat: { ...agent.heartbeat }, budget: { ...agent.budget },
  });
  const models = useAsync(() => api.get("/api/models").then((p) => p.items || p), []);
  const save = useAction(async () => {
    const out = await api.patch(`/api/agents/${enc(agent.id)}`, form);
    toast("Agent saved.");
    onSaved(out);
  });
  const edit = !can("ManageAgents");
  const set = (key, value) => setForm({ ...form, [key]: value });
  const hb = (key, value) => setForm({ ...form, heartbeat: { ...form.heartbeat, [key]: value } });
  return html`<form class="card stack" onSubmit=${(e) => { e.preventDefault(); save.run(); }}>
    <${ErrorBox} error=${save.error} title="Not saved" />
    <fieldset disabled=${edit} class="grid plain">
      <${Field} label="Name"><input value=${form.name} onInput=${(e) => set("name", e.target.value)} /></${Field}>
      <${Field} label="Description"><input value=${form.description} onInput=${(e) => set("description", e.target.value)} /></${Field}>
      <${Field} label="Model" hint="Empty: routing by provider priority.">
        <input list="model-list" value=${form.model} onInput=${(e) => set("model", e.target.value)} />
        <datalist id="model-list">${(models.data || []).map((m) => html`<option value=${m.id} />`)}</datalist>
      </${Field}>
      <${Field} label="Temperature"><input type="number" step="0.1" min="0" max="2" value=${form.temperature}
        onInput=${(e) => set("temperature", Number(e.target.value))} /></${Field}>
      <${Field} label="Max tokens"><input type="number" min="1" value=${form.maxTokens}
        onInput=${(e) => set("maxTokens", Number(e.target.value))} /></${Field}>
      <${Field} label="Planning"><select value=${form.planningMode} onChange=${(e) => set("planningMode", e.target.value)}>
        ${["Auto", "LlmDecides", "Always", "Never"].map((m) => html`<option value=${m}>${m}</option>`)}</select></${Field}>
      <label class="check"><input type="checkbox" checked=${form.heartbeat.enabled}
        onChange=${(e) => hb("enabled", e.target.checked)} /> Heartbeat enabled</label>
      <${Field} label="Heartbeat interval (minutes)"><input type="number" min="1" max="1440"
        value=${form.heartbeat.intervalMinutes} onInput=${(e) => hb("intervalMinutes", Number(e.target.value))} /></${Field}>
      <${Field} label="Daily token budget" hint="Empty: no limit."><input type="number" min="1"
        value=${form.budget.dailyTokens ?? ""}
        onInput=${(e) => setForm({ ...form, budget: { dailyTokens: e.target.value ? Number(e.target.value) : null } })} /></${Field}>
    </fieldset>
    ${can("ManageAgents") && html`<div><button type="submit" disabled=${save.busy}>Save settings</button></div>`}
  </form>`;
}

function PersonaFile({ agent, kind, filename }) {
  const file = useAsync(() => api.get(`/api/agents/${enc(agent.id)}/files/${kind}`), [kind]);
  const versions = usePaged(`/api/agents/${enc(agent.id)}/files/${kind}/versions`, { content: true }, [kind]);
  // null while unedited, so the editor shows the loaded content from its very first render
  const [draft, setDraft] = useState(null);
  const [compare, setCompare] = useState(null);
  const text = draft ?? file.data?.content ?? "";
  const save = useAction(async () => {
    const out = await api.put(`/api/agents/${enc(agent.id)}/files/${kind}`, { content: text },
      { headers: { "If-Match": file.data.etag } });
    file.set(out);
    setDraft(null);
    toast(`${filename} saved as version ${out.version}.`);
    versions.reload();
  });
  const restore = useAction(async (version) => {
    const out = await api.post(`/api/agents/${enc(agent.id)}/files/${kind}/versions/${version}/restore`);
    file.set(out);
    setDraft(null);
    setCompare(null);
    toast(`${filename}: version ${version} restored.`);
    versions.reload();
  });
  const editable = can("ManageAgents");
  if (file.loading && !file.data) return html`<${Loading} />`;
  return html`<div class="persona">
    <${ErrorBox} error=${file.error || save.error || restore.error} />
    ${file.data && html`<form class="stack" onSubmit=${(e) => { e.preventDefault(); save.run(); }}>
      <${Field} label=${`${filename} (version ${file.data.version})`}>
        <textarea class="code" readonly=${!editable} value=${text} onInput=${(e) => setDraft(e.target.value)}></textarea>
      </${Field}>
      ${editable && html`<div class="row"><button type="submit" disabled=${save.busy || text === file.data.content}>Save ${filename}</button>
        <button type="button" class="secondary" disabled=${text === file.data.content} onClick=${() => setDraft(null)}>Discard changes</button></div>`}
    </form>`}
    <h3>History</h3>
    <div class="table-wrap"><table>
      <thead><tr><th>Version</th><th>By</th><th>When</th><th>Size</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${versions.items.map((v) => html`<tr key=${v.version}>
        <td>${v.version}</td><td>${v.actor.email || v.actor.kind}</td><td><${Time} value=${v.createdAt} /></td><td>${v.size} B</td>
        <td class="row">
          <button type="button" class="secondary" aria-label=${`Compare version ${v.version}`} onClick=${() => setCompare(v)}>Compare</button>
          ${editable && file.data && v.version !== file.data.version &&
          html`<button type="button" aria-label=${`Restore version ${v.version}`} onClick=${() => restore.run(v.version)}>Restore</button>`}
        </td></tr>`)}</tbody>
    </table></div>
    ${compare && html`<section class="card">
      <h3>Version ${compare.version} → the editor</h3>
      <${Diff} before=${compare.content} after=${text} label=${`Changes from version ${compare.version}`} />
      <button type="button" class="secondary" onClick=${() => setCompare(null)}>Close diff</button>
    </section>`}
  </div>`;
}

function Persona({ agent }) {
  const [kind, setKind] = useState("soul");
  const filename = FILES.find(([k]) => k === kind)[1];
  return html`<div class="card">
    <${Tabs} label="Persona files" current=${kind} onSelect=${setKind} tabs=${FILES}>
      <${PersonaFile} key=${kind} agent=${agent} kind=${kind} filename=${filename} />
    </${Tabs}>
  </div>`;
}

function Tools({ agent }) {
  const catalog = useAsync(() => listAll("/api/tools"), []);
  const current = useAsync(() => api.get(`/api/agents/${enc(agent.id)}/tools`), []);
  const [chosen, setChosen] = useState(null);
  useEffect(() => {
    if (current.data) setChosen(new Set(current.data.tools));
  }, [current.data]);
  const save = useAction(async () => {
    const out = await api.put(`/api/agents/${enc(agent.id)}/tools`, { tools: [...chosen] });
    current.set(out);
    toast("Tool allowlist saved.");
  });
  if (!catalog.data || !chosen) return html`<${ErrorBox} error=${catalog.error || current.error} /><${Loading} />`;
  const effective = new Set(current.data.effective);
  const toggle = (name) => {
    const next = new Set(chosen);
    next.has(name) ? next.delete(name) : next.add(name);
    setChosen(next);
  };
  const globs = [...chosen].filter((t) => t.includes("*"));
  return html`<div class="card stack">
    <${ErrorBox} error=${save.error} />
    ${globs.length > 0 && html`<p class="small">Families allowed: ${globs.map((g) => html`<code>${g}</code> `)}</p>`}
    <div class="table-wrap"><table>
      <thead><tr><th>Allowed</th><th>Tool</th><th>Risk</th><th>Description</th></tr></thead>
      <tbody>${catalog.data.map((t) => html`<tr key=${t.name}>
        <td><input type="checkbox" aria-label=${`Allow ${t.name}`} disabled=${!can("ManageAgents")}
          checked=${chosen.has(t.name)} onChange=${() => toggle(t.name)} />
          ${effective.has(t.name) && !chosen.has(t.name) && html`<span class="small muted"> (by family)</span>`}</td>
        <td><code>${t.name}</code>${!t.available && html` <span class="badge muted">unavailable</span>`}</td>
        <td><${Status} value=${t.riskLevel} /></td><td class="small">${t.description}</td></tr>`)}</tbody>
    </table></div>
    ${can("ManageAgents") && html`<div><button type="button" onClick=${() => save.run()} disabled=${save.busy}>Save allowlist</button></div>`}
  </div>`;
}

export default function Agent({ params }) {
  const agent = useAsync(() => api.get(`/api/agents/${enc(params.id)}`), [params.id]);
  const [tab, setTab] = useState("settings");
  const remove = useAction(async () => {
    await api.del(`/api/agents/${enc(params.id)}`);
    toast("Agent deleted.");
    navigate("/agents");
  });
  const a = agent.data;
  return html`<${PageHead} title=${a ? a.name : "Agent"}>
      ${a && !a.isDefault && can("ManageAgents") && html`<${ConfirmButton} onConfirm=${() => remove.run()} label="Delete this agent?">Delete agent</${ConfirmButton}>`}
    </${PageHead}>
    <${ErrorBox} error=${agent.error || remove.error} />
    ${agent.loading && !a && html`<${Loading} />`}
    ${a && html`<p class="small muted"><code>${a.id}</code> · created <${Time} value=${a.createdAt} /></p>
      <${Tabs} label="Agent" current=${tab} onSelect=${setTab}
        tabs=${[["settings", "Settings"], ["persona", "Persona files"], ["tools", "Tools"]]}>
        ${tab === "settings" && html`<${Settings} agent=${a} onSaved=${(out) => agent.set(out)} />`}
        ${tab === "persona" && html`<${Persona} agent=${a} />`}
        ${tab === "tools" && html`<${Tools} agent=${a} />`}
      </${Tabs}>`}`;
}
