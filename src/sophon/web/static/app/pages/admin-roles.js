// Admin · Roles: the built-in roles (read-only) and custom ones, created, edited and deleted.
import { useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api, enc } from "../lib/api.js";
import { session, can, hasFeature } from "../lib/session.js";
import { ConfirmButton, ErrorBox, Field, ListState, PageHead, useAction, usePaged, toast } from "../lib/ui.js";

/** Creates a role, or edits `role` (its name, description and permissions) when given. */
function RoleForm({ role, onDone, onCancel }) {
  const all = session.get().me.permissions;
  const blank = { name: "", description: "", permissions: [] };
  const [form, setForm] = useState(role
    ? { name: role.name, description: role.description || "", permissions: role.permissions } : blank);
  const save = useAction(async () => {
    if (role) {
      await api.patch(`/api/admin/roles/${enc(role.id)}`, form);
      toast(`Role ${form.name} saved.`);
    } else {
      await api.post("/api/admin/roles", form);
      toast(`Role ${form.name} created.`);
      setForm(blank);
    }
    onDone();
  });
  const toggle = (p) => setForm({ ...form, permissions: form.permissions.includes(p)
    ? form.permissions.filter((x) => x !== p) : [...form.permissions, p] });
  const title = role ? `Edit ${role.name}` : "New custom role";
  // the catalog the signed-in user holds, plus whatever the role already has beyond it
  const choices = [...all, ...(role ? role.permissions.filter((p) => !all.includes(p)) : [])];
  return html`<form class="card stack" aria-label=${title} onSubmit=${(e) => { e.preventDefault(); save.run(); }}>
    <h2>${title}</h2>
    <${ErrorBox} error=${save.error} title=${role ? "Not saved" : "Not created"} />
    <div class="grid"><${Field} label="Role name"><input required value=${form.name} onInput=${(e) => setForm({ ...form, name: e.target.value })} /></${Field}>
      <${Field} label="Description"><input value=${form.description} onInput=${(e) => setForm({ ...form, description: e.target.value })} /></${Field}></div>
    <fieldset class="plain perms"><legend class="label">Permissions</legend>
      ${choices.map((p) => html`<label class="check" key=${p}><input type="checkbox" checked=${form.permissions.includes(p)} onChange=${() => toggle(p)} /> ${p}</label>`)}
    </fieldset>
    <div class="row"><button type="submit" disabled=${save.busy}>${role ? "Save role" : "Create role"}</button>
      ${role && html`<button type="button" class="secondary" onClick=${onCancel}>Cancel</button>`}</div>
  </form>`;
}

export default function Roles() {
  const list = usePaged("/api/admin/roles");
  const [editing, setEditing] = useState(null);
  const remove = useAction(async (id) => {
    await api.del(`/api/admin/roles/${enc(id)}`);
    list.reload();
  });
  const manage = can("ManageRoles") && hasFeature("rbac");
  return html`<${PageHead} title="Roles" />
    ${can("ManageRoles") && (hasFeature("rbac")
      ? html`<${RoleForm} onDone=${() => list.reload()} />`
      : html`<p class="notice">Custom roles need an Enterprise licence with the <code>rbac</code> feature.</p>`)}
    <${ErrorBox} error=${remove.error} />
    <${ListState} list=${list} empty="No roles.">
      ${list.items.map((r) => editing === r.id
        ? html`<${RoleForm} key=${r.id} role=${r} onCancel=${() => setEditing(null)}
            onDone=${() => { setEditing(null); list.reload(); }} />`
        : html`<section class="card" key=${r.id} aria-label=${`Role ${r.name}`}>
        <div class="row"><h2>${r.name}</h2>${r.builtin && html`<span class="badge">built-in</span>`}
          ${!r.builtin && manage && html`<button type="button" class="secondary" aria-label=${`Edit ${r.name}`} onClick=${() => setEditing(r.id)}>Edit</button>
            <${ConfirmButton} onConfirm=${() => remove.run(r.id)} label=${`Delete ${r.name}?`}>Delete</${ConfirmButton}>`}</div>
        <p class="small">${r.description}</p>
        <details><summary>${r.permissions.length} permissions</summary><p class="small">${r.permissions.join(", ")}</p></details>
      </section>`)}
    </${ListState}>`;
}
