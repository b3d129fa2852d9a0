// Operations: health of each part, system figures, and pause / resume / drain.
import { html } from "../lib/html.js";
import { api } from "../lib/api.js";
import { can } from "../lib/session.js";
import { ErrorBox, Loading, PageHead, Status, Json, useAction, useAsync, toast } from "../lib/ui.js";

function Part({ name, value }) {
  const status = value && value.status;
  return html`<section class="card">
    <h2>${name} ${status && html`<${Status} value=${status} />`}</h2>
    <${Json} value=${value} />
  </section>`;
}

export default function Operations() {
  const health = useAsync(() => api.get("/api/ops/health"));
  const system = useAsync(() => api.get("/api/ops/system"));
  const control = useAction(async (verb) => {
    const out = await api.post(`/api/ops/${verb}`);
    toast(`Processing is now ${out.processing}.`);
    health.reload();
  });
  const h = health.data;
  return html`<${PageHead} title="Operations">
      <button type="button" class="secondary" onClick=${() => { health.reload(); system.reload(); }}>Refresh</button>
    </${PageHead}>
    <${ErrorBox} error=${health.error || system.error || control.error} />
    ${health.loading && !h && html`<${Loading} />`}
    ${h && html`<section class="card">
      <h2>Gateway <${Status} value=${h.status} /></h2>
      <p>Processing: <strong class="processing">${h.processing}</strong> · queue depth ${h.queue.depth}</p>
      ${can("ManageOperations") && html`<div class="row">
        <button type="button" disabled=${control.busy || h.processing === "paused"} onClick=${() => control.run("pause")}>Pause</button>
        <button type="button" disabled=${control.busy || h.processing === "running"} onClick=${() => control.run("resume")}>Resume</button>
        <button type="button" class="secondary" disabled=${control.busy || h.processing !== "running"} onClick=${() => control.run("drain")}>Drain</button>
      </div>`}
    </section>
    <div class="grid">
      <${Part} name="Database" value=${h.database} />
      <${Part} name="Background start" value=${h.startup} />
      <${Part} name="Workers" value=${h.workers} />
      <${Part} name="Scheduler" value=${h.scheduler} />
      <${Part} name="Model providers" value=${h.providers} />
    </div>`}
    ${system.data && html`<${Part} name="System" value=${system.data} />`}`;
}
