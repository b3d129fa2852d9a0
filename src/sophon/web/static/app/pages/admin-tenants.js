// Admin · Tenants: create, suspend, delete, members (list, assign with roles; change roles and remove
// where the signed-in admin is a member too); switching tenant is in the header.
import { useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api, enc, listAll } from "../lib/api.js";
import { loadMe, switchTenant } from "../lib/auth.js";
import { session } from "../lib/session.js";
import { useStore } from "../lib/store.js";
import {
  ConfirmButton, Dialog, ErrorBox, Field, ListState, PageHead, Status, Time, useAction, useAsync, usePaged, toast,
} from "../lib/ui.js";

function RoleChecks({ roles, chosen, onChange, legend = "Roles" }) {
  return html`<fieldset class="plain row"><legend class="label">${legend}</legend>
    ${roles.map((name) => html`<label class="check" key=${name}><input type="checkbox" checked=${chosen.includes(name)}
      onChange=${(e) => onChange(e.target.checked ? [...chosen, name] : chosen.filter((n) => n !== name))} /> ${name}</label>`)}
  </fieldset>`;
}

function EditRoles({ user, roles, busy, onSave }) {
  const [chosen, setChosen] = useState(user.roles);
  return html`<div class="stack"><${RoleChecks} legend=${`Roles of ${user.email}`} roles=${roles} chosen=${chosen} onChange=${setChosen} />
    <div><button type="button" disabled=${busy} onClick=${() => onSave(chosen)}>Save roles</button></div></div>`;
}

/** A tenant's members. Assigning goes through `/api/admin/tenants/{id}/users`; changing roles and
 * removing are the tenant's own user administration, so they are offered (sent with that
 * tenant's header) only where the signed-in admin is a member of it. */
function Members({ tenant, member, onMine }) {
  const path = `/api/admin/tenants/${enc(tenant.id)}/users`;
  const list = usePaged(path);
  const builtin = useAsync(async () => (await listAll("/api/admin/roles")).filter((r) => r.builtin).map((r) => r.name), []);
  const [form, setForm] = useState({ user: "", roles: ["Viewer"] });
  const [editing, setEditing] = useState(null);
  const assign = useAction(async () => {
    const out = await api.post(path, form);
    toast(`${out.email} added to ${tenant.name}.`);
    if (out.id === session.get().me.user.id) {
      await loadMe(); // the header's tenant switcher and this page now offer it
      onMine();
    }
    setForm({ user: "", roles: ["Viewer"] });
    list.reload();
  });
  const there = { "X-Sophon-Tenant": tenant.slug };
  const act = useAction(async (user, body) => {
    const at = `/api/admin/users/${enc(user.id)}`;
    if (body) await api.patch(at, body, { headers: there });
    else await api.del(at, { headers: there });
    toast(body ? `Roles of ${user.email} saved.` : `${user.email} removed from ${tenant.name}.`);
    setEditing(null);
    list.reload();
  });
  const roles = builtin.data || [];
  return html`<div class="stack">
    <form class="stack" aria-label="Assign a member" onSubmit=${(e) => { e.preventDefault(); assign.run(); }}>
      <${ErrorBox} error=${assign.error || builtin.error} title="Not assigned" />
      <${Field} label="User" hint="An existing user's email or id"><input required value=${form.user} onInput=${(e) => setForm({ ...form, user: e.target.value })} /></${Field}>
      <${RoleChecks} roles=${roles} chosen=${form.roles} onChange=${(r) => setForm({ ...form, roles: r })} />
      <div><button type="submit" disabled=${assign.busy}>Assign user</button></div>
    </form>
    <${ErrorBox} error=${act.error} />
    <${ListState} list=${list} empty="No members yet.">
      <div class="table-wrap"><table>
        <thead><tr><th>Member</th><th>Roles</th><th>Status</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>${list.items.map((u) => html`<tr key=${u.id}>
          <td>${u.displayName}<div class="small muted">${u.email}</div></td>
          <td>${editing === u.id
            ? html`<${EditRoles} user=${u} roles=${roles} busy=${act.busy} onSave=${(r) => act.run(u, { roles: r })} />`
            : u.roles.join(", ")}</td>
          <td><${Status} value=${u.status} /></td>
          <td class="row">${member && html`
            <button type="button" class="secondary" aria-label=${`Change roles of ${u.email}`}
              onClick=${() => setEditing(editing === u.id ? null : u.id)}>${editing === u.id ? "Cancel" : "Change roles"}</button>
            <${ConfirmButton} onConfirm=${() => act.run(u, null)} label=${`Remove ${u.email} from ${tenant.name}?`}>Remove</${ConfirmButton}>`}
          </td></tr>`)}</tbody>
      </table></div>
    </${ListState}>
    ${!member && html`<p class="small muted">Changing a member's roles or removing them is done inside the tenant: assign yourself, switch to it, then use Users.</p>`}
  </div>`;
}

function TenantList() {
  const list = usePaged("/api/admin/tenants");
  const [form, setForm] = useState({ slug: "", name: "" });
  const make = useAction(async () => {
    await api.post("/api/admin/tenants", form);
    toast(`Tenant ${form.slug} created.`);
    setForm({ slug: "", name: "" });
    list.reload();
  });
  const act = useAction(async (t, body) => {
    await api.patch(`/api/admin/tenants/${enc(t.id)}`, body);
    list.reload();
  });
  const remove = useAction(async (t) => {
    await api.del(`/api/admin/tenants/${enc(t.id)}`);
    toast(`Tenant ${t.slug} deleted.`);
    list.reload();
  });
  const [members, setMembers] = useState(null);
  const memberOf = new Set(session.get().me.tenants.map((t) => t.slug));
  return html`<${PageHead} title="Tenants" />
    <form class="card stack" onSubmit=${(e) => { e.preventDefault(); make.run(); }}>
      <h2>New tenant</h2>
      <${ErrorBox} error=${make.error} title="Not created" />
      <div class="grid"><${Field} label="Slug" hint="URL-safe: /api/tenants/<slug>/…"><input required value=${form.slug} onInput=${(e) => setForm({ ...form, slug: e.target.value })} /></${Field}>
        <${Field} label="Tenant name"><input required value=${form.name} onInput=${(e) => setForm({ ...form, name: e.target.value })} /></${Field}></div>
      <div><button type="submit" disabled=${make.busy}>Create tenant</button></div>
    </form>
    <${ErrorBox} error=${act.error || remove.error} />
    <${ListState} list=${list} empty="No tenants.">
      <div class="table-wrap"><table>
        <thead><tr><th>Tenant</th><th>Status</th><th>Tier</th><th>Created</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>${list.items.map((t) => html`<tr key=${t.id}>
          <td>${t.name}<div class="small muted"><code>${t.slug}</code></div></td><td><${Status} value=${t.status} /></td>
          <td>${t.tierOverride || "Gateway's"}</td><td><${Time} value=${t.createdAt} /></td>
          <td class="row"><button type="button" class="secondary" aria-label=${`Members of ${t.name}`} onClick=${() => setMembers(t)}>Members</button>
            ${memberOf.has(t.slug) && html`<button type="button" class="secondary" onClick=${() => switchTenant(t.slug)}>Switch to</button>`}
            ${t.slug !== "default" && html`<button type="button" class="secondary"
              onClick=${() => act.run(t, { status: t.status === "Active" ? "Suspended" : "Active" })}>${t.status === "Active" ? "Suspend" : "Reactivate"}</button>
              <${ConfirmButton} onConfirm=${() => remove.run(t)} label=${`Delete ${t.name} and everything it owns?`}>Delete</${ConfirmButton}>`}</td>
        </tr>`)}</tbody>
      </table></div>
    </${ListState}>
    <${Dialog} open=${!!members} title=${members ? `Members of ${members.name}` : ""} onClose=${() => setMembers(null)}>
      ${members && html`<${Members} tenant=${members} member=${memberOf.has(members.slug)} onMine=${() => list.reload()} />`}
    </${Dialog}>`;
}

/** Tenants are managed from the default tenant (the API refuses elsewhere): switched into another
 * one, the page says so and offers the way back instead of asking. */
export default function Tenants() {
  const state = useStore(session);
  const current = state.tenant || state.me.tenant.slug;
  if (current === "default") return html`<${TenantList} />`;
  const home = state.me.tenants.some((t) => t.slug === "default");
  return html`<${PageHead} title="Tenants" />
    <div class="card stack">
      <p>Tenants are managed from the default tenant; this tab works in <code>${current}</code>.</p>
      ${home && html`<div><button type="button" onClick=${() => switchTenant("default")}>Switch to the default tenant</button></div>`}
    </div>`;
}
