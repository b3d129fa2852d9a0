// API tokens: the caller's own `sk_` tokens; the secret is shown once, at creation.
import { useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api, enc } from "../lib/api.js";
import { session } from "../lib/session.js";
import { ConfirmButton, ErrorBox, Field, ListState, PageHead, Time, useAction, usePaged } from "../lib/ui.js";

export default function Tokens() {
  const list = usePaged("/api/auth/tokens");
  const [name, setName] = useState("");
  const [expires, setExpires] = useState("");
  const [scoped, setScoped] = useState([]);
  const make = useAction(async () => {
    const body = { name, expiresAt: expires ? new Date(expires).toISOString() : null };
    if (scoped.length) body.permissions = scoped;
    const out = await api.post("/api/auth/tokens", body);
    setName("");
    list.reload();
    return out;
  });
  const revoke = useAction(async (id) => {
    await api.del(`/api/auth/tokens/${enc(id)}`);
    list.reload();
  });
  const mine = session.get().me.permissions;
  return html`<${PageHead} title="API tokens" />
    <form class="card stack" onSubmit=${(e) => { e.preventDefault(); make.run(); }}>
      <h2>New token</h2>
      <${ErrorBox} error=${make.error} title="Not created" />
      ${make.result && html`<p class="notice" role="status">Copy it now, it is shown only once:
        <code class="secret">${make.result.token}</code></p>`}
      <div class="grid"><${Field} label="Token name"><input required value=${name} onInput=${(e) => setName(e.target.value)} /></${Field}>
        <${Field} label="Expires" hint="Empty: never."><input type="datetime-local" value=${expires} onInput=${(e) => setExpires(e.target.value)} /></${Field}></div>
      <details><summary>Limit to some permissions (${scoped.length || "all of yours"})</summary>
        <fieldset class="plain perms"><legend class="visually-hidden">Permissions</legend>
        ${mine.map((p) => html`<label class="check" key=${p}><input type="checkbox" checked=${scoped.includes(p)}
          onChange=${(e) => setScoped(e.target.checked ? [...scoped, p] : scoped.filter((x) => x !== p))} /> ${p}</label>`)}</fieldset>
      </details>
      <div><button type="submit" disabled=${make.busy}>Create token</button></div>
    </form>
    <${ErrorBox} error=${revoke.error} />
    <${ListState} list=${list} empty="No tokens.">
      <div class="table-wrap"><table>
        <thead><tr><th>Name</th><th>Prefix</th><th>Permissions</th><th>Expires</th><th>Last used</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>${list.items.map((t) => html`<tr key=${t.id}><td>${t.name}</td><td><code>${t.prefix}…</code></td>
          <td class="small">${t.permissions ? t.permissions.join(", ") : "all of yours"}</td>
          <td><${Time} value=${t.expiresAt} /></td><td><${Time} value=${t.lastUsedAt} /></td>
          <td><${ConfirmButton} onConfirm=${() => revoke.run(t.id)} label="Revoke?">Revoke</${ConfirmButton}></td></tr>`)}</tbody>
      </table></div>
    </${ListState}>`;
}
