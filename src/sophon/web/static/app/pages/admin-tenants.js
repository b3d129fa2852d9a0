// Admin · Tenants: create, suspend, members; switching tenant is in the header.
import { useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api, enc } from "../lib/api.js";
import { switchTenant } from "../lib/auth.js";
import { session } from "../lib/session.js";
import { ErrorBox, Field, ListState, PageHead, Status, Time, useAction, usePaged, toast } from "../lib/ui.js";

export default function Tenants() {
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
  const memberOf = new Set(session.get().me.tenants.map((t) => t.slug));
  return html`<${PageHead} title="Tenants" />
    <form class="card stack" onSubmit=${(e) => { e.preventDefault(); make.run(); }}>
      <h2>New tenant</h2>
      <${ErrorBox} error=${make.error} title="Not created" />
      <div class="grid"><${Field} label="Slug" hint="URL-safe: /api/tenants/<slug>/…"><input required value=${form.slug} onInput=${(e) => setForm({ ...form, slug: e.target.value })} /></${Field}>
        <${Field} label="Tenant name"><input required value=${form.name} onInput=${(e) => setForm({ ...form, name: e.target.value })} /></${Field}></div>
      <div><button type="submit" disabled=${make.busy}>Create tenant</button></div>
    </form>
    <${ErrorBox} error=${act.error} />
    <${ListState} list=${list} empty="No tenants.">
      <div class="table-wrap"><table>
        <thead><tr><th>Tenant</th><th>Status</th><th>Tier</th><th>Created</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>${list.items.map((t) => html`<tr key=${t.id}>
          <td>${t.name}<div class="small muted"><code>${t.slug}</code></div></td><td><${Status} value=${t.status} /></td>
          <td>${t.tierOverride || "Gateway's"}</td><td><${Time} value=${t.createdAt} /></td>
          <td class="row">${memberOf.has(t.slug) && html`<button type="button" class="secondary" onClick=${() => switchTenant(t.slug)}>Switch to</button>`}
            ${t.slug !== "default" && html`<button type="button" class="secondary"
              onClick=${() => act.run(t, { status: t.status === "Active" ? "Suspended" : "Active" })}>${t.status === "Active" ? "Suspend" : "Reactivate"}</button>`}</td>
        </tr>`)}</tbody>
      </table></div>
    </${ListState}>`;
}
