// Admin · Roles: the built-in roles and custom ones with their permissions.
import { useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api, enc } from "../lib/api.js";
import { session, can, hasFeature } from "../lib/session.js";
import { ConfirmButton, ErrorBox, Field, ListState, PageHead, useAction, usePaged, toast } from "../lib/ui.js";

function RoleForm({ onMade }) {
  const all = session.get().me.permissions;
  const [form, setForm] = useState({ name: "", description: "", permissions: [] });
  const make = useAction(async () => {
    await api.post("/api/admin/roles", form);
    toast(`Role ${form.name} created.`);
    setForm({ name: "", description: "", permissions: [] });
    onMade();
  });
  const toggle = (p) => setForm({ ...form, permissions: form.permissions.includes(p)
    ? form.permissions.filter((x) => x !== p) : [...form.permissions, p] });
  return html`<form class="card stack" onSubmit=${(e) => { e.preventDefault(); make.run(); }}>
    <h2>New custom role</h2>
    <${ErrorBox} error=${make.error} title="Not created" />
    <div class="grid"><${Field} label="Role name"><input required value=${form.name} onInput=${(e) => setForm({ ...form, name: e.target.value })} /></${Field}>
      <${Field} label="Description"><input value=${form.description} onInput=${(e) => setForm({ ...form, description: e.target.value })} /></${Field}></div>
    <fieldset class="plain perms"><legend class="label">Permissions</legend>
      ${all.map((p) => html`<label class="check" key=${p}><input type="checkbox" checked=${form.permissions.includes(p)} onChange=${() => toggle(p)} /> ${p}</label>`)}
    </fieldset>
    <div><button type="submit" disabled=${make.busy}>Create role</button></div>
  </form>`;
}

export default function Roles() {
  const list = usePaged("/api/admin/roles");
  const remove = useAction(async (id) => {
    await api.del(`/api/admin/roles/${enc(id)}`);
    list.reload();
  });
  return html`<${PageHead} title="Roles" />
    ${can("ManageRoles") && (hasFeature("rbac")
      ? html`<${RoleForm} onMade=${() => list.reload()} />`
      : html`<p class="notice">Custom roles need an Enterprise licence with the <code>rbac</code> feature.</p>`)}
    <${ErrorBox} error=${remove.error} />
    <${ListState} list=${list} empty="No roles.">
      ${list.items.map((r) => html`<section class="card" key=${r.id}>
        <div class="row"><h2>${r.name}</h2>${r.builtin && html`<span class="badge">built-in</span>`}
          ${!r.builtin && can("ManageRoles") && html`<${ConfirmButton} onConfirm=${() => remove.run(r.id)} label=${`Delete ${r.name}?`}>Delete</${ConfirmButton}>`}</div>
        <p class="small">${r.description}</p>
        <details><summary>${r.permissions.length} permissions</summary><p class="small">${r.permissions.join(", ")}</p></details>
      </section>`)}
    </${ListState}>`;
}
