// The signed-in user's own account: who they are, their permissions, their sign-in sessions.
import { html } from "../lib/html.js";
import { api, enc } from "../lib/api.js";
import { session } from "../lib/session.js";
import { useStore } from "../lib/store.js";
import { ConfirmButton, ErrorBox, ListState, PageHead, Time, usePaged, useAction, toast } from "../lib/ui.js";

export default function Account() {
  const { me } = useStore(session);
  const sessions = usePaged("/api/auth/sessions");
  const revoke = useAction(async (id) => {
    await api.del(`/api/auth/sessions/${enc(id)}`);
    toast("Session signed out.");
    sessions.reload();
  });
  return html`<${PageHead} title="Account" />
    <section class="card">
      <h2>${me.user.displayName}</h2>
      <p>${me.user.email} · tenant <strong>${me.tenant.name}</strong> · tier ${me.tier}</p>
      <p>Roles: ${me.roles.join(", ") || "none"}</p>
      <details><summary>Permissions (${me.permissions.length})</summary>
        <p class="small">${me.permissions.join(", ")}</p></details>
    </section>
    <section class="card">
      <h2>Sign-in sessions</h2>
      <${ErrorBox} error=${revoke.error} />
      <${ListState} list=${sessions} empty="No sessions.">
        <div class="table-wrap"><table><thead><tr><th>Started</th><th>Last seen</th><th>Client</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>${sessions.items.map((s) => html`<tr key=${s.id}>
          <td><${Time} value=${s.createdAt} /></td><td><${Time} value=${s.lastSeenAt} /></td>
          <td class="small">${s.userAgent || s.ip || ""}${s.current ? " (this one)" : ""}</td>
          <td>${!s.current && html`<${ConfirmButton} onConfirm=${() => revoke.run(s.id)}>Sign out</${ConfirmButton}>`}</td>
        </tr>`)}</tbody></table></div>
      </${ListState}>
    </section>`;
}
