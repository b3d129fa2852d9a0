// Admin · Licence: what is installed, verify a key, install one.
import { useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api } from "../lib/api.js";
import { ErrorBox, Field, Json, Loading, PageHead, Status, Time, useAction, useAsync, toast } from "../lib/ui.js";

export default function License() {
  const current = useAsync(() => api.get("/api/admin/license"), []);
  const [key, setKey] = useState("");
  const verify = useAction(() => api.post("/api/admin/license/verify", { key }));
  const install = useAction(async () => {
    const out = await api.post("/api/admin/license", { key });
    toast("Licence installed.");
    current.set(out);
  });
  const l = current.data;
  return html`<${PageHead} title="Licence" />
    <${ErrorBox} error=${current.error} />
    ${current.loading && !l && html`<${Loading} />`}
    ${l && html`<section class="card">
      <h2>${l.installed ? html`${l.tier} <${Status} value=${l.status} />` : "No licence installed"}</h2>
      ${l.installed && html`<p>Issued to ${l.issuedTo} · expires <${Time} value=${l.expiresAt} /> · ${l.maxUsers ?? "unlimited"} users</p>
        <p class="small">Features: ${l.features.join(", ") || "none"}</p>`}
      ${l.problem && html`<p class="error">${l.problem}</p>`}
    </section>`}
    <form class="card stack" onSubmit=${(e) => { e.preventDefault(); install.run(); }}>
      <${Field} label="Licence key"><textarea value=${key} onInput=${(e) => setKey(e.target.value)}></textarea></${Field}>
      <${ErrorBox} error=${verify.error || install.error} />
      ${verify.result && html`<div role="status"><${Json} value=${verify.result} /></div>`}
      <div class="row"><button type="button" class="secondary" disabled=${!key} onClick=${() => verify.run()}>Verify</button>
        <button type="submit" disabled=${!key || install.busy}>Install</button></div>
    </form>`;
}
