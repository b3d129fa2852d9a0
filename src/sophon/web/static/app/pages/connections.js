// Connections: the tenant's named credentials (API key, bearer token, basic). The secret is
// write-only: shown masked, referenced in configuration as {{vault:<name>}}; test, rotate, remove.
import { useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api, enc } from "../lib/api.js";
import { can } from "../lib/session.js";
import {
  Badge, ConfirmButton, ErrorBox, Field, ListState, PageHead, Time, toast, useAction, usePaged,
} from "../lib/ui.js";

const EMPTY = { name: "", service: "", authType: "apiKey", secret: "", username: "", header: "", testUrl: "" };

function AddConnection({ onAdded }) {
  const [form, setForm] = useState(EMPTY);
  const set = (key) => (e) => setForm({ ...form, [key]: e.target.value });
  const add = useAction(async () => {
    const body = { name: form.name, authType: form.authType, secret: form.secret };
    if (form.service) body.service = form.service;
    if (form.authType === "basic") body.username = form.username;
    if (form.authType === "apiKey" && form.header) body.header = form.header;
    if (form.testUrl) body.testUrl = form.testUrl;
    const made = await api.post("/api/connections", body);
    setForm(EMPTY);
    toast(`Added: use it as ${made.reference}.`);
    onAdded();
    return made;
  });
  return html`<form class="card stack" onSubmit=${(e) => { e.preventDefault(); add.run(); }}>
    <h2>Add a connection</h2>
    <${ErrorBox} error=${add.error} title="Not added" />
    <div class="grid">
      <${Field} label="Name" hint="Referenced as {{vault:<name>}}."><input required value=${form.name} onInput=${set("name")} /></${Field}>
      <${Field} label="Service" hint="Optional, e.g. openrouter."><input value=${form.service} onInput=${set("service")} /></${Field}>
      <${Field} label="Kind"><select value=${form.authType} onChange=${set("authType")}>
        <option value="apiKey">API key</option><option value="bearer">Bearer token</option><option value="basic">Username and password</option>
      </select></${Field}>
    </div>
    <div class="grid">
      ${form.authType === "basic" && html`<${Field} label="Username"><input required value=${form.username} onInput=${set("username")} /></${Field}>`}
      <${Field} label=${form.authType === "basic" ? "Password" : "Secret"} hint="Kept in the vault; never shown again.">
        <input required type="password" autocomplete="off" value=${form.secret} onInput=${set("secret")} /></${Field}>
      ${form.authType === "apiKey" && html`<${Field} label="Header" hint="Default X-API-Key."><input value=${form.header} onInput=${set("header")} /></${Field}>`}
      <${Field} label="Test URL" hint="Optional: called with the credential by Test."><input type="url" value=${form.testUrl} onInput=${set("testUrl")} /></${Field}>
    </div>
    <div><button type="submit" disabled=${add.busy}>Add connection</button></div>
  </form>`;
}

function Rotate({ connection, onDone }) {
  const [secret, setSecret] = useState("");
  const rotate = useAction(async () => {
    await api.post(`/api/connections/${enc(connection.id)}/rotate`, { secret });
    setSecret("");
    toast(`${connection.name} rotated.`);
    onDone();
  });
  return html`<form class="row" onSubmit=${(e) => { e.preventDefault(); rotate.run(); }}>
    <${ErrorBox} error=${rotate.error} title="Not rotated" />
    <${Field} label=${`New secret for ${connection.name}`}>
      <input required type="password" autocomplete="off" value=${secret} onInput=${(e) => setSecret(e.target.value)} /></${Field}>
    <button type="submit" class="secondary" disabled=${rotate.busy}>Rotate</button>
  </form>`;
}

export default function Connections() {
  const list = usePaged("/api/connections");
  const [rotating, setRotating] = useState(null);
  const test = useAction(async (id) => {
    const out = await api.post(`/api/connections/${enc(id)}/test`);
    list.reload();
    return out;
  });
  const remove = useAction(async (id) => {
    await api.del(`/api/connections/${enc(id)}`);
    list.reload();
  });
  const manage = can("ManageConnections");
  const result = test.result;
  return html`<${PageHead} title="Connections" />
    <p class="muted">Credentials for external services, kept encrypted. Configuration (MCP servers, mcp.json) refers to one as <code>{{vault:name}}</code>; it is resolved only when used.</p>
    ${manage && html`<${AddConnection} onAdded=${list.reload} />`}
    <${ErrorBox} error=${test.error || remove.error} />
    ${result && html`<div class="card" role="status"><h2>Test result</h2>
      <p>${result.ok ? `Passed (HTTP ${result.statusCode}, ${Math.round(result.latencyMs)} ms).` : result.tested ? `Failed: ${result.error}` : `Not tested: ${result.error}`}</p></div>`}
    <${ListState} list=${list} empty="No connections yet.">
      <div class="table-wrap"><table>
        <thead><tr><th>Name</th><th>Service</th><th>Kind</th><th>Secret</th><th>Reference</th><th>Last test</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>${list.items.map((c) => html`<tr key=${c.id}>
          <td>${c.name}</td><td>${c.service}</td><td>${c.authType}</td><td><code>${c.secret}</code></td>
          <td><code>${c.reference}</code></td>
          <td>${c.lastTestedAt ? html`<${Badge} tone=${c.lastTestOk ? "ok" : "bad"}>${c.lastTestOk ? "passed" : "failed"}</${Badge}> <${Time} value=${c.lastTestedAt} />` : "never"}</td>
          <td class="row">
            <button type="button" class="secondary" disabled=${test.busy} onClick=${() => test.run(c.id)}>Test ${c.name}</button>
            <button type="button" class="secondary" onClick=${() => setRotating(rotating === c.id ? null : c.id)}>Rotate ${c.name}</button>
            <${ConfirmButton} onConfirm=${() => remove.run(c.id)} label=${`Remove ${c.name}?`}>Remove</${ConfirmButton}>
          </td></tr>`)}</tbody>
      </table></div>
      ${rotating && html`<div class="card">${list.items.filter((c) => c.id === rotating).map((c) => html`<${Rotate} key=${c.id} connection=${c} onDone=${() => { setRotating(null); list.reload(); }} />`)}</div>`}
    </${ListState}>`;
}
