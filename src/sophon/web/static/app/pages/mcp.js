// MCP: the tenant's external MCP servers (add, test, approve changed tools, remove) and the
// Gateway's own MCP server (status, tokens shown once at creation).
import { useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api, enc } from "../lib/api.js";
import {
  Badge, ConfirmButton, ErrorBox, Field, ListState, PageHead, Status, Tabs, Time, toast, useAction, useAsync, usePaged,
} from "../lib/ui.js";

const STATUS_TONE = { connected: "ok", connecting: "info", disconnected: "bad", disabled: "muted", awaiting_approval: "warn" };

function AddServer({ onAdded }) {
  const [form, setForm] = useState({ name: "", transport: "stdio", command: "", args: "", url: "", token: "", sandbox: false });
  const set = (key) => (e) => setForm({ ...form, [key]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  const add = useAction(async () => {
    const body = { name: form.name, transport: form.transport };
    if (form.transport === "stdio") {
      body.command = form.command;
      body.args = form.args.split("\n").map((a) => a.trim()).filter(Boolean);
      body.sandbox = form.sandbox;
    } else {
      body.url = form.url;
      if (form.token) body.auth = { type: "bearer", token: form.token };
    }
    const made = await api.post("/api/mcp/servers", body);
    setForm({ ...form, name: "", command: "", args: "", url: "", token: "" });
    toast(made.status === "awaiting_approval" ? "Added: its command waits for an approval." : "Added.");
    onAdded();
    return made;
  });
  const stdio = form.transport === "stdio";
  return html`<form class="card stack" onSubmit=${(e) => { e.preventDefault(); add.run(); }}>
    <h2>Add a server</h2>
    <${ErrorBox} error=${add.error} title="Not added" />
    <div class="grid">
      <${Field} label="Name" hint="Tools become mcp.<name>.<tool>."><input required value=${form.name} onInput=${set("name")} /></${Field}>
      <${Field} label="Transport"><select value=${form.transport} onChange=${set("transport")}>
        <option value="stdio">stdio (a command)</option><option value="streamableHttp">Streamable HTTP</option><option value="sse">SSE</option>
      </select></${Field}>
    </div>
    ${stdio
      ? html`<div class="grid">
          <${Field} label="Command"><input required value=${form.command} onInput=${set("command")} /></${Field}>
          <${Field} label="Arguments" hint="One per line."><textarea rows="3" value=${form.args} onInput=${set("args")}></textarea></${Field}>
        </div>
        <label class="check"><input type="checkbox" checked=${form.sandbox} onChange=${set("sandbox")} /> Run in the sandbox</label>`
      : html`<div class="grid">
          <${Field} label="URL"><input required type="url" value=${form.url} onInput=${set("url")} /></${Field}>
          <${Field} label="Bearer token" hint="Optional; kept in the vault."><input type="password" value=${form.token} onInput=${set("token")} /></${Field}>
        </div>`}
    <div><button type="submit" disabled=${add.busy}>Add server</button></div>
  </form>`;
}

function Servers() {
  const list = usePaged("/api/mcp/servers");
  const test = useAction(async (id) => api.post(`/api/mcp/servers/${enc(id)}/test`));
  const approve = useAction(async (id) => {
    await api.post(`/api/mcp/servers/${enc(id)}/approve-tools`);
    toast("Tool definitions approved.");
    list.reload();
  });
  const remove = useAction(async (id) => {
    await api.del(`/api/mcp/servers/${enc(id)}`);
    list.reload();
  });
  const result = test.result;
  return html`<${AddServer} onAdded=${list.reload} />
    <${ErrorBox} error=${test.error || approve.error || remove.error} />
    ${result && html`<div class="card" role="status"><h2>Test result</h2>
      ${result.ok
        ? html`<p>${result.serverName} ${result.serverVersion} (protocol ${result.protocolVersion}), ${Math.round(result.latencyMs)} ms:
            ${result.tools.length} tools, ${result.resources} resources, ${result.prompts} prompts.</p>`
        : html`<p>Failed: ${result.error}</p>`}</div>`}
    <${ListState} list=${list} empty="No MCP servers yet.">
      <div class="table-wrap"><table>
        <thead><tr><th>Name</th><th>Transport</th><th>Status</th><th>Tools</th><th>Notes</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>${list.items.map((s) => html`<tr key=${s.id}>
          <td>${s.name}</td><td>${s.transport}</td>
          <td><${Badge} tone=${STATUS_TONE[s.status] || ""}>${s.status.replace("_", " ")}</${Badge}></td>
          <td>${s.toolCount}</td>
          <td class="small">${s.lastError || ""}
            ${s.status === "awaiting_approval" && html`<a href="/approvals">Approve its command</a>`}
            ${s.changedTools.length > 0 && html`Changed: ${s.changedTools.join(", ")}`}
            ${Object.entries(s.problems).map(([tool, why]) => html`<div key=${tool}>${why}</div>`)}</td>
          <td class="row">
            <button type="button" class="secondary" disabled=${test.busy} onClick=${() => test.run(s.id)}>Test ${s.name}</button>
            ${s.changedTools.length > 0 && html`<button type="button" onClick=${() => approve.run(s.id)}>Approve tools</button>`}
            <${ConfirmButton} onConfirm=${() => remove.run(s.id)} label="Remove?">Remove</${ConfirmButton}>
          </td></tr>`)}</tbody>
      </table></div>
    </${ListState}>`;
}

function OwnServer() {
  const status = useAsync(() => api.get("/api/mcp/server/status"));
  const tokens = usePaged("/api/mcp/server/tokens");
  const [name, setName] = useState("");
  const make = useAction(async () => {
    const made = await api.post("/api/mcp/server/tokens", { name });
    setName("");
    tokens.reload();
    return made;
  });
  const revoke = useAction(async (id) => {
    await api.del(`/api/mcp/server/tokens/${enc(id)}`);
    tokens.reload();
  });
  const s = status.data;
  return html`<div class="card stack"><h2>Status</h2>
      <${ErrorBox} error=${status.error} />
      ${s && html`<p>${s.enabled ? "Enabled" : "Disabled"} · transports: ${s.transports.join(", ")} ·
        ${s.connectedSessions} connected sessions · ${s.callsServed} calls served.
        MCP clients connect to <code>${location.origin}/mcp/http</code> with a token below.</p>`}
    </div>
    <form class="card stack" onSubmit=${(e) => { e.preventDefault(); make.run(); }}>
      <h2>New MCP token</h2>
      <${ErrorBox} error=${make.error} title="Not created" />
      ${make.result && html`<p class="notice" role="status">Copy it now, it is shown only once:
        <code class="secret">${make.result.token}</code></p>`}
      <${Field} label="Token name"><input required value=${name} onInput=${(e) => setName(e.target.value)} /></${Field}>
      <div><button type="submit" disabled=${make.busy}>Create MCP token</button></div>
    </form>
    <${ErrorBox} error=${revoke.error} />
    <${ListState} list=${tokens} empty="No MCP tokens.">
      <div class="table-wrap"><table>
        <thead><tr><th>Name</th><th>Prefix</th><th>Tools</th><th>Last used</th><th>State</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>${tokens.items.map((t) => html`<tr key=${t.id}><td>${t.name}</td><td><code>${t.prefix}…</code></td>
          <td class="small">${t.tools ? t.tools.join(", ") : "all exposed"}</td><td><${Time} value=${t.lastUsedAt} /></td>
          <td>${t.revokedAt ? html`<${Status} value="Revoked" />` : html`<${Status} value="Active" />`}</td>
          <td>${!t.revokedAt && html`<${ConfirmButton} onConfirm=${() => revoke.run(t.id)} label="Revoke?">Revoke</${ConfirmButton}>`}</td></tr>`)}</tbody>
      </table></div>
    </${ListState}>`;
}

export default function Mcp() {
  const [tab, setTab] = useState("servers");
  return html`<${PageHead} title="MCP" />
    <${Tabs} label="MCP" current=${tab} onSelect=${setTab} tabs=${[["servers", "Connected servers"], ["server", "Sophon as a server"]]}>
      ${tab === "servers" ? html`<${Servers} />` : html`<${OwnServer} />`}
    </${Tabs}>`;
}
