// Admin · Users: create, suspend / reactivate, roles, force sign-out, delete.
import { useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api, enc, listAll } from "../lib/api.js";
import { can } from "../lib/session.js";
import {
  ConfirmButton, Dialog, ErrorBox, Field, ListState, PageHead, Status, Time, useAction, useAsync, usePaged, toast,
} from "../lib/ui.js";

function RolePicker({ roles, chosen, onChange, disabled }) {
  return html`<fieldset class="plain row" disabled=${disabled}><legend class="label">Roles</legend>
    ${roles.map((r) => html`<label class="check" key=${r.id}><input type="checkbox" checked=${chosen.includes(r.name)}
      onChange=${(e) => onChange(e.target.checked ? [...chosen, r.name] : chosen.filter((n) => n !== r.name))} /> ${r.name}</label>`)}
  </fieldset>`;
}

function CreateUser({ roles, onMade }) {
  const [form, setForm] = useState({ email: "", displayName: "", roles: ["Member"] });
  const make = useAction(async () => {
    const out = await api.post("/api/admin/users", form);
    onMade(out);
    setForm({ email: "", displayName: "", roles: ["Member"] });
    return out;
  });
  return html`<form class="card stack" onSubmit=${(e) => { e.preventDefault(); make.run(); }}>
    <h2>New user</h2>
    <${ErrorBox} error=${make.error} title="Not created" />
    ${make.result && make.result.initialPassword && html`<p class="notice" role="status">Created ${make.result.email}.
      One-time password (shown once): <code>${make.result.initialPassword}</code></p>`}
    <div class="grid">
      <${Field} label="Email"><input type="email" required value=${form.email} onInput=${(e) => setForm({ ...form, email: e.target.value })} /></${Field}>
      <${Field} label="Display name"><input required value=${form.displayName} onInput=${(e) => setForm({ ...form, displayName: e.target.value })} /></${Field}>
    </div>
    <${RolePicker} roles=${roles} chosen=${form.roles} disabled=${!can("AssignRoles")} onChange=${(r) => setForm({ ...form, roles: r })} />
    <div><button type="submit" disabled=${make.busy}>Create user</button></div>
  </form>`;
}

export default function Users() {
  const list = usePaged("/api/admin/users");
  const roles = useAsync(() => listAll("/api/admin/roles"), []);
  const [editing, setEditing] = useState(null);
  const act = useAction(async (user, verb, body) => {
    const path = `/api/admin/users/${enc(user.id)}`;
    if (verb === "patch") await api.patch(path, body);
    if (verb === "logout") toast(`${(await api.post(path + "/logout")).sessionsEnded} sessions ended.`);
    if (verb === "delete") await api.del(path);
    setEditing(null);
    list.reload();
  });
  const manage = can("ManageUsers");
  return html`<${PageHead} title="Users" />
    ${manage && roles.data && html`<${CreateUser} roles=${roles.data} onMade=${() => list.reload()} />`}
    <${ErrorBox} error=${act.error || roles.error} />
    <${ListState} list=${list} empty="No users.">
      <div class="table-wrap"><table>
        <thead><tr><th>User</th><th>Roles</th><th>Status</th><th>Last sign-in</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>${list.items.map((u) => html`<tr key=${u.id}>
          <td>${u.displayName}<div class="small muted">${u.email}</div></td>
          <td>${u.roles.join(", ")}</td><td><${Status} value=${u.status} /></td><td><${Time} value=${u.lastLoginAt} /></td>
          <td class="row">${manage && html`
            <button type="button" class="secondary" onClick=${() => setEditing(u)}>Roles</button>
            <button type="button" class="secondary" onClick=${() => act.run(u, "patch", { status: u.status === "Active" ? "Suspended" : "Active" })}>
              ${u.status === "Active" ? "Suspend" : "Reactivate"}</button>
            <button type="button" class="secondary" onClick=${() => act.run(u, "logout")}>Sign out everywhere</button>
            <${ConfirmButton} onConfirm=${() => act.run(u, "delete")} label=${`Delete ${u.email}?`}>Delete</${ConfirmButton}>`}
          </td></tr>`)}</tbody>
      </table></div>
    </${ListState}>
    <${Dialog} open=${!!editing} title=${editing ? `Roles of ${editing.email}` : ""} onClose=${() => setEditing(null)}>
      ${editing && roles.data && html`<${EditRoles} user=${editing} roles=${roles.data} onSave=${(r) => act.run(editing, "patch", { roles: r })} />`}
    </${Dialog}>`;
}

function EditRoles({ user, roles, onSave }) {
  const [chosen, setChosen] = useState(user.roles);
  return html`<div class="stack"><${RolePicker} roles=${roles} chosen=${chosen} onChange=${setChosen} disabled=${!can("AssignRoles")} />
    <div><button type="button" onClick=${() => onSave(chosen)}>Save roles</button></div></div>`;
}
