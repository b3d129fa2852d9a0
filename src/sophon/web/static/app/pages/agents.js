// Agents: the list, and creating one.
import { useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api } from "../lib/api.js";
import { navigate } from "../lib/router.js";
import { can } from "../lib/session.js";
import { ErrorBox, Field, ListState, PageHead, Time, useAction, usePaged } from "../lib/ui.js";

function CreateAgent() {
  const [form, setForm] = useState({ name: "", description: "", model: "" });
  const create = useAction(async () => {
    const made = await api.post("/api/agents", form);
    navigate("/agents/" + made.id);
  });
  const bind = (key) => ({ value: form[key], onInput: (e) => setForm({ ...form, [key]: e.target.value }) });
  return html`<form class="card stack" onSubmit=${(e) => { e.preventDefault(); create.run(); }}>
    <h2>New agent</h2>
    <${ErrorBox} error=${create.error} title="The agent was not created" />
    <div class="grid">
      <${Field} label="Name"><input required ...${bind("name")} /></${Field}>
      <${Field} label="Description"><input ...${bind("description")} /></${Field}>
      <${Field} label="Model" hint="Empty: the tenant's routing picks one."><input ...${bind("model")} /></${Field}>
    </div>
    <div><button type="submit" disabled=${create.busy}>Create agent</button></div>
  </form>`;
}

export default function Agents() {
  const list = usePaged("/api/agents");
  return html`<${PageHead} title="Agents" />
    ${can("ManageAgents") && html`<${CreateAgent} />`}
    <${ListState} list=${list} empty="No agents.">
      <div class="table-wrap"><table>
        <thead><tr><th>Name</th><th>Model</th><th>Tools</th><th>Heartbeat</th><th>Updated</th></tr></thead>
        <tbody>${list.items.map((a) => html`<tr key=${a.id}>
          <td><a href=${"/agents/" + a.id}>${a.name}</a>${a.isDefault && html` <span class="badge">default</span>`}
            <div class="small muted">${a.description}</div></td>
          <td>${a.model || html`<span class="muted">routing</span>`}</td>
          <td>${a.tools.length}</td>
          <td>${a.heartbeat.enabled ? `every ${a.heartbeat.intervalMinutes} min` : "off"}</td>
          <td><${Time} value=${a.updatedAt} /></td>
        </tr>`)}</tbody>
      </table></div>
    </${ListState}>`;
}
