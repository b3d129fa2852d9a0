// Skills: installed skills (version, source, signature, tools, agents), install from an archive,
// a URL or the marketplace, enable/disable per agent, versions (roll back), uninstall.
import { useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api, enc, listAll } from "../lib/api.js";
import { can } from "../lib/session.js";
import { Markdown } from "../lib/markdown.js";
import {
  Badge, ConfirmButton, ErrorBox, Field, ListState, PageHead, Status, Time, useAction, useAsync, usePaged, toast,
} from "../lib/ui.js";

const SIGNATURE_TONE = { signed: "ok", bundled: "info", unsigned: "warn" };

function InstallForm({ onInstalled }) {
  const [source, setSource] = useState("file");
  const [file, setFile] = useState(null);
  const [target, setTarget] = useState("");
  const [allowUnsigned, setAllowUnsigned] = useState(false);
  const install = useAction(async () => {
    let out;
    if (source === "file") {
      const form = new FormData();
      form.append("file", file);
      form.append("allowUnsigned", String(allowUnsigned));
      out = await api.post("/api/skills/install", form);
    } else {
      const body = source === "url" ? { url: target } : { name: target };
      out = await api.post("/api/skills/install", { ...body, allowUnsigned });
    }
    toast(`Installed ${out.name} ${out.version}.`);
    onInstalled(out);
  });
  return html`<form class="stack" aria-label="Install a skill" onSubmit=${(e) => { e.preventDefault(); install.run(); }}>
    <${ErrorBox} error=${install.error} title="Not installed" />
    <div class="grid">
      <${Field} label="From"><select value=${source} onChange=${(e) => setSource(e.target.value)}>
        <option value="file">An archive (.zip, .tar.gz)</option><option value="url">An https URL</option>
        <option value="name">The marketplace</option></select></${Field}>
      ${source === "file"
        ? html`<${Field} label="Archive"><input type="file" accept=".zip,.tar.gz,.tgz" required
            onChange=${(e) => setFile(e.target.files[0] || null)} /></${Field}>`
        : html`<${Field} label=${source === "url" ? "URL" : "Skill name"}><input required value=${target}
            onInput=${(e) => setTarget(e.target.value)} /></${Field}>`}
      <${Field} label="Allow unsigned" hint="Install even without a trusted signature (shown as unsigned).">
        <input type="checkbox" checked=${allowUnsigned} onChange=${(e) => setAllowUnsigned(e.target.checked)} /></${Field}>
    </div>
    <div class="row"><button type="submit" disabled=${install.busy}>Install</button></div>
  </form>`;
}

function SkillDetail({ name, agents, onChanged }) {
  const detail = useAsync(() => api.get(`/api/skills/${enc(name)}`), [name]);
  const [agentId, setAgentId] = useState("");
  const act = useAction(async (kind, arg) => {
    if (kind === "enable") await api.post(`/api/skills/${enc(name)}/enable`, { agentId: arg });
    if (kind === "disable") await api.del(`/api/skills/${enc(name)}/enable`, { body: { agentId: arg } });
    if (kind === "activate") await api.post(`/api/skills/${enc(name)}/versions/${enc(arg)}/activate`);
    toast(kind === "activate" ? `${name} now runs ${arg}.` : `${name} ${kind}d.`);
    detail.reload();
    onChanged();
  });
  const skill = detail.data;
  if (!skill) return html`<${ErrorBox} error=${detail.error} />`;
  const agentName = (id) => (agents.find((a) => a.id === id) || {}).name || id;
  const manage = can("ManageSkills");
  return html`<div class="stack">
    <${ErrorBox} error=${act.error} />
    <h3>Enabled for</h3>
    ${skill.enabledAgents.length === 0 && html`<p class="muted">No agent yet.</p>`}
    <ul>${skill.enabledAgents.map((id) => html`<li key=${id}>${agentName(id)}
      ${manage && html` <button type="button" class="secondary" onClick=${() => act.run("disable", id)}>Disable for ${agentName(id)}</button>`}</li>`)}</ul>
    ${manage && html`<div class="row">
      <${Field} label="Agent"><select value=${agentId} onChange=${(e) => setAgentId(e.target.value)}>
        <option value="">Choose an agent…</option>
        ${agents.filter((a) => !skill.enabledAgents.includes(a.id)).map((a) => html`<option value=${a.id} key=${a.id}>${a.name}</option>`)}
      </select></${Field}>
      <button type="button" disabled=${!agentId || act.busy} onClick=${() => act.run("enable", agentId)}>Enable</button></div>`}
    <h3>Versions</h3>
    <div class="table-wrap"><table>
      <thead><tr><th>Version</th><th>Status</th><th>Source</th><th>Signature</th><th>Installed</th><th></th></tr></thead>
      <tbody>${skill.versions.map((v) => html`<tr key=${v.version}>
        <td>${v.version}${v.active && html` <${Badge} tone="ok">active</${Badge}>`}</td>
        <td><${Status} value=${v.status} /></td><td>${v.source}</td>
        <td><${Badge} tone=${SIGNATURE_TONE[v.signature] || ""}>${v.signature}</${Badge}>${v.signer && html` <span class="small">${v.signer}</span>`}</td>
        <td><${Time} value=${v.installedAt} /></td>
        <td>${manage && !v.active && v.status === "Active" && html`<button type="button" class="secondary"
          onClick=${() => act.run("activate", v.version)}>Activate ${v.version}</button>`}</td>
      </tr>`)}</tbody>
    </table></div>
    <h3>Instructions (SKILL.md)</h3>
    <${Markdown} text=${skill.skillMd} />
    <p class="small muted">Files: ${skill.files.join(", ")}</p>
  </div>`;
}

export default function Skills() {
  const list = usePaged("/api/skills");
  const agents = useAsync(() => listAll("/api/agents"), []);
  const [open, setOpen] = useState(null);
  const [installing, setInstalling] = useState(false);
  const remove = useAction(async (name) => {
    await api.del(`/api/skills/${enc(name)}`);
    toast(`Uninstalled ${name}.`);
    setOpen(null);
    list.reload();
  });
  const manage = can("ManageSkills");
  return html`<${PageHead} title="Skills" />
    <div class="stack">
      ${manage && !installing && html`<div><button type="button" onClick=${() => setInstalling(true)}>Install a skill</button></div>`}
      ${installing && html`<section class="card"><h2>Install a skill</h2>
        <${InstallForm} onInstalled=${() => { setInstalling(false); list.reload(); }} /></section>`}
      <${ErrorBox} error=${remove.error || agents.error} />
      <${ListState} list=${list} empty="No skills installed.">
        ${list.items.map((s) => html`<section class="card" key=${s.name} aria-label=${`Skill ${s.name}`}>
          <div class="row"><h2>${s.name}</h2><span class="badge">${s.version}</span><${Status} value=${s.status} />
            <${Badge} tone=${SIGNATURE_TONE[s.signature] || ""}>${s.signature}</${Badge}><span class="small muted">${s.source}</span></div>
          <p>${s.description}</p>
          <p class="small">Tools: ${s.tools.length ? s.tools.map((t) => `${t.name} (${t.riskLevel})`).join(", ") : "none (instructions only)"}
            · enabled for ${s.enabledAgents.length} agent${s.enabledAgents.length === 1 ? "" : "s"}</p>
          <div class="row">
            <button type="button" class="secondary" aria-expanded=${open === s.name}
              onClick=${() => setOpen(open === s.name ? null : s.name)}>${open === s.name ? "Hide" : "Details"} for ${s.name}</button>
            ${manage && html`<${ConfirmButton} onConfirm=${() => remove.run(s.name)} label=${`Uninstall ${s.name}?`}>Uninstall</${ConfirmButton}>`}
          </div>
          ${open === s.name && html`<${SkillDetail} name=${s.name} agents=${agents.data || []} onChanged=${() => list.reload()} />`}
        </section>`)}
      </${ListState}>
    </div>`;
}
