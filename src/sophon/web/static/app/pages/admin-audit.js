// Admin · Audit log: filters, export (NDJSON or CSV) and verifying the hash chain.
import { useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api } from "../lib/api.js";
import { ErrorBox, Field, Json, ListState, PageHead, Time, useAction, usePaged } from "../lib/ui.js";

const FIELDS = [["actor", "Actor"], ["action", "Action"], ["resourceType", "Resource type"], ["outcome", "Outcome"]];

export default function Audit() {
  const empty = { actor: "", action: "", resourceType: "", outcome: "", since: "", until: "" };
  const [filters, setFilters] = useState(empty);
  const [applied, setApplied] = useState(empty);
  const query = { ...applied,
    since: applied.since ? new Date(applied.since).toISOString() : "",
    until: applied.until ? new Date(applied.until).toISOString() : "" };
  const list = usePaged("/api/admin/audit", query);
  const verify = useAction(() => api.get("/api/admin/audit/verify"));
  const exporting = useAction(async (format) => {
    const response = await api.get("/api/admin/audit/export", { query: { ...query, format }, raw: true });
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = `audit.${format}`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });
  const r = verify.result;
  return html`<${PageHead} title="Audit log">
      <button type="button" onClick=${() => verify.run()} disabled=${verify.busy}>Verify chain</button>
      <button type="button" class="secondary" onClick=${() => exporting.run("ndjson")}>Export NDJSON</button>
      <button type="button" class="secondary" onClick=${() => exporting.run("csv")}>Export CSV</button>
    </${PageHead}>
    <${ErrorBox} error=${verify.error || exporting.error} />
    ${r && html`<div class=${r.ok ? "notice" : "error"} role="status">
      ${r.ok ? html`<strong>Chain intact</strong>: ${r.checked} entries checked.`
        : html`<strong>Chain broken</strong> at entry ${r.brokenAt.seq} (${r.brokenAt.id}): ${r.brokenAt.reason}. ${r.checked} entries checked.`}
    </div>`}
    <form class="row filters" onSubmit=${(e) => { e.preventDefault(); setApplied(filters); }}>
      ${FIELDS.map(([key, label]) => html`<${Field} label=${label}><input value=${filters[key]}
        onInput=${(e) => setFilters({ ...filters, [key]: e.target.value })} /></${Field}>`)}
      <${Field} label="Since"><input type="datetime-local" value=${filters.since} onInput=${(e) => setFilters({ ...filters, since: e.target.value })} /></${Field}>
      <${Field} label="Until"><input type="datetime-local" value=${filters.until} onInput=${(e) => setFilters({ ...filters, until: e.target.value })} /></${Field}>
      <button type="submit">Filter</button>
    </form>
    <${ListState} list=${list} empty="No entries match.">
      <div class="table-wrap"><table>
        <thead><tr><th>#</th><th>When</th><th>Actor</th><th>Action</th><th>Resource</th><th>Outcome</th></tr></thead>
        <tbody>${list.items.map((e) => html`<tr key=${e.id}><td>${e.seq}</td><td><${Time} value=${e.timestamp} /></td>
          <td class="small">${e.actor.email || e.actor.userId || "system"}</td><td><code>${e.action}</code></td>
          <td class="small">${e.resource.type ? `${e.resource.type} ${e.resource.id || ""}` : ""}</td>
          <td>${e.outcome}<details><summary class="small">details</summary><${Json} value=${e.details} /></details></td></tr>`)}</tbody>
      </table></div>
    </${ListState}>`;
}
