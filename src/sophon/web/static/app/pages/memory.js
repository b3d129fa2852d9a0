// Memory: entries (filters, create, edit, versions, forget with its approval), search with
// highlighted snippets, the entity graph drawn with Cytoscape, and the daily logs by date.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api, enc } from "../lib/api.js";
import { can } from "../lib/session.js";
import {
  ConfirmButton, Dialog, Empty, ErrorBox, Field, ListState, Loading, PageHead, Tabs, Time, useAction, useAsync, usePaged, toast,
} from "../lib/ui.js";

function Snippet({ text }) {
  const decode = (part) => new DOMParser().parseFromString(part, "text/html").documentElement.textContent;
  const parts = text.split(/<\/?mark>/);
  return html`<span>${parts.map((p, i) => (i % 2 ? html`<mark>${decode(p)}</mark>` : decode(p)))}</span>`;
}

function EntryEditor({ entry, onSaved, onClose }) {
  const [content, setContent] = useState(entry.content);
  const [tags, setTags] = useState(entry.tags.join(", "));
  const versions = useAsync(() => api.get(`/api/memory/entries/${enc(entry.id)}/versions`, { query: { limit: 50 } }), [entry.id]);
  const save = useAction(async () => {
    const out = await api.patch(`/api/memory/entries/${enc(entry.id)}`, {
      content, tags: tags.split(",").map((t) => t.trim()).filter(Boolean),
    });
    toast("Memory saved.");
    onSaved(out);
  });
  const restore = useAction(async (version) => {
    const out = await api.post(`/api/memory/entries/${enc(entry.id)}/versions/${version}/restore`);
    toast(`Version ${version} restored.`);
    onSaved(out);
  });
  const editable = can("EditMemory", "ManageMemory");
  return html`<div class="stack">
    <${ErrorBox} error=${save.error || restore.error || versions.error} />
    <${Field} label="Content"><textarea readonly=${!editable} value=${content} onInput=${(e) => setContent(e.target.value)}></textarea></${Field}>
    <${Field} label="Tags (comma-separated)"><input readonly=${!editable} value=${tags} onInput=${(e) => setTags(e.target.value)} /></${Field}>
    <div class="row">${editable && html`<button type="button" onClick=${() => save.run()}>Save memory</button>`}
      <button type="button" class="secondary" onClick=${onClose}>Close</button></div>
    <h3>Versions</h3>
    ${versions.data && html`<ul class="versions">${versions.data.items.map((v) => html`<li key=${v.version}>
      <strong>v${v.version}</strong> ${v.change} · <${Time} value=${v.createdAt} />
      <div class="small">${v.content}</div>
      ${editable && v.version !== entry.version && html`<button type="button" class="secondary" onClick=${() => restore.run(v.version)}>Restore v${v.version}</button>`}
    </li>`)}</ul>`}
  </div>`;
}

function NewEntry({ onMade }) {
  const [form, setForm] = useState({ content: "", category: "fact", tags: "" });
  const make = useAction(async () => {
    const out = await api.post("/api/memory/entries", {
      content: form.content, category: form.category, tags: form.tags.split(",").map((t) => t.trim()).filter(Boolean),
    });
    setForm({ content: "", category: "fact", tags: "" });
    toast("Memory added.");
    onMade(out);
  });
  return html`<form class="card stack" onSubmit=${(e) => { e.preventDefault(); make.run(); }}>
    <h2>Remember something</h2>
    <${ErrorBox} error=${make.error} />
    <${Field} label="New memory"><textarea required value=${form.content} onInput=${(e) => setForm({ ...form, content: e.target.value })}></textarea></${Field}>
    <div class="row">
      <${Field} label="Category"><select value=${form.category} onChange=${(e) => setForm({ ...form, category: e.target.value })}>
        <option value="fact">fact</option><option value="preference">preference</option><option value="observation">observation</option></select></${Field}>
      <${Field} label="Tags"><input value=${form.tags} onInput=${(e) => setForm({ ...form, tags: e.target.value })} /></${Field}>
    </div>
    <div><button type="submit" disabled=${make.busy}>Add memory</button></div>
  </form>`;
}

function Entries({ onEntity }) {
  const [filters, setFilters] = useState({ scope: "", category: "", text: "", tag: "" });
  const [applied, setApplied] = useState(filters);
  const list = usePaged("/api/memory/entries", applied);
  const [editing, setEditing] = useState(null);
  const forget = useAction(async (id) => {
    const out = await api.post(`/api/memory/entries/${enc(id)}/forget`);
    toast("Forgetting waits for approval.");
    return out;
  });
  const bind = (key) => ({ value: filters[key], onInput: (e) => setFilters({ ...filters, [key]: e.target.value }),
    onChange: (e) => setFilters({ ...filters, [key]: e.target.value }) });
  return html`${can("EditMemory", "ManageMemory") && html`<${NewEntry} onMade=${() => list.reload()} />`}
    <form class="row filters" onSubmit=${(e) => { e.preventDefault(); setApplied(filters); }}>
      <${Field} label="Scope"><select ...${bind("scope")}><option value="">Any</option><option value="user">user</option><option value="agent">agent</option></select></${Field}>
      <${Field} label="Category"><select ...${bind("category")}><option value="">Any</option><option value="fact">fact</option><option value="preference">preference</option><option value="observation">observation</option></select></${Field}>
      <${Field} label="Contains"><input type="search" ...${bind("text")} /></${Field}>
      <${Field} label="Tag"><input ...${bind("tag")} /></${Field}>
      <button type="submit">Filter</button>
    </form>
    <${ErrorBox} error=${forget.error} />
    ${forget.result && html`<p class="notice" role="status">Forgetting is waiting for approval
      <code>${forget.result.approvalId}</code>: <a href="/approvals">decide it on the Approvals page</a>.</p>`}
    <${ListState} list=${list} empty="No memories match.">
      <ul class="entries">${list.items.map((m) => html`<li class="card" key=${m.id}>
        <div>${m.content}</div>
        <div class="small muted">${m.category} · ${m.scope} · v${m.version} · <${Time} value=${m.updatedAt} />
          ${m.tags.map((t) => html` <span class="badge">${t}</span>`)}</div>
        ${m.entities.length > 0 && html`<div class="row small">Entities: ${m.entities.map((e) => html`<button type="button"
          class="secondary" onClick=${() => onEntity(e.name)}>${e.name}</button>`)}</div>`}
        <div class="row">
          <button type="button" class="secondary" onClick=${() => setEditing(m)}>Open</button>
          ${can("EditMemory", "ManageMemory") && html`<${ConfirmButton} onConfirm=${() => forget.run(m.id)} label="Forget everywhere?">Forget</${ConfirmButton}>`}
        </div>
      </li>`)}</ul>
    </${ListState}>
    <${Dialog} open=${!!editing} title="Memory" onClose=${() => setEditing(null)}>
      ${editing && html`<${EntryEditor} entry=${editing} onClose=${() => setEditing(null)}
        onSaved=${(out) => { setEditing(out); list.reload(); }} />`}
    </${Dialog}>`;
}

function Search() {
  const [q, setQ] = useState("");
  const [asked, setAsked] = useState("");
  const result = useAsync(() => (asked ? api.get("/api/memory/search", { query: { q: asked, limit: 20 } }) : null), [asked]);
  return html`<form class="row" role="search" onSubmit=${(e) => { e.preventDefault(); setAsked(q); }}>
      <${Field} label="Search memories"><input type="search" value=${q} onInput=${(e) => setQ(e.target.value)} /></${Field}>
      <button type="submit">Search</button>
    </form>
    <${ErrorBox} error=${result.error} />
    ${result.loading && asked && html`<${Loading} />`}
    ${result.data && (result.data.items.length === 0 ? html`<${Empty}>Nothing found.</${Empty}>` : html`
      <p class="small muted">${result.data.mode} search</p>
      <ol class="hits">${result.data.items.map((h) => html`<li class="card" key=${h.entry.id}>
        <div><${Snippet} text=${h.snippet} /></div>
        <div class="small muted">score ${h.score.toFixed(3)} · ${h.matched.join(" + ")} · ${h.entry.category}</div>
      </li>`)}</ol>`)}`;
}

const CYTOSCAPE_SHEET = "__________cytoscape_stylesheet";

function GraphCanvas({ graph }) {
  const box = useRef(null);
  useEffect(() => {
    let cy = null;
    import("cytoscape").then(({ default: cytoscape }) => {
      if (!box.current) return;
      // Cytoscape injects a <style> unless this id exists (the CSP refuses inline styles); its
      // one rule is in styles.css
      if (!document.getElementById(CYTOSCAPE_SHEET)) {
        const marker = document.createElement("meta");
        marker.id = CYTOSCAPE_SHEET;
        document.head.append(marker);
      }
      const dark = getComputedStyle(document.documentElement).getPropertyValue("--text").trim();
      cy = cytoscape({
        container: box.current,
        elements: [
          ...graph.nodes.map((n) => ({ data: { id: n.id, label: n.name, depth: n.depth } })),
          ...graph.edges.map((e) => ({ data: { id: e.id, source: e.subject, target: e.object, label: e.predicate } })),
        ],
        style: [
          { selector: "node", style: { label: "data(label)", "background-color": "#5565d8", color: dark, "font-size": 12 } },
          { selector: "node[depth = 0]", style: { "background-color": "#c2410c" } },
          { selector: "edge", style: { label: "data(label)", "curve-style": "bezier", "target-arrow-shape": "triangle",
            width: 2, "line-color": "#8a90a6", "target-arrow-color": "#8a90a6", color: dark, "font-size": 10 } },
        ],
        layout: { name: "cose", animate: false },
      });
    });
    return () => cy && cy.destroy();
  }, [graph]);
  return html`<div class="graph" ref=${box} role="img" aria-label="Entity graph (the relations are listed below)"></div>`;
}

function Graph({ entity, setEntity }) {
  const [name, setName] = useState(entity);
  const [depth, setDepth] = useState(1);
  useEffect(() => setName(entity), [entity]);
  const graph = useAsync(() => (entity ? api.get("/api/memory/graph", { query: { entity, depth } }) : null), [entity, depth]);
  const names = Object.fromEntries(((graph.data && graph.data.nodes) || []).map((n) => [n.id, n.name]));
  return html`<form class="row" onSubmit=${(e) => { e.preventDefault(); setEntity(name); }}>
      <${Field} label="Entity (name or id)"><input value=${name} onInput=${(e) => setName(e.target.value)} /></${Field}>
      <${Field} label="Depth"><select value=${depth} onChange=${(e) => setDepth(Number(e.target.value))}>
        <option value="1">1</option><option value="2">2</option><option value="3">3</option></select></${Field}>
      <button type="submit">Show graph</button>
    </form>
    <${ErrorBox} error=${graph.error} />
    ${!entity && html`<${Empty}>Name an entity, or pick one from a memory.</${Empty}>`}
    ${graph.data && html`<${GraphCanvas} graph=${graph.data} />
      <table><caption class="visually-hidden">Relations</caption>
        <thead><tr><th>Subject</th><th>Relation</th><th>Object</th><th>Valid</th></tr></thead>
        <tbody>${graph.data.edges.map((e) => html`<tr key=${e.id}><td>${names[e.subject] || e.subject}</td>
          <td>${e.predicate}</td><td>${names[e.object] || e.object}</td>
          <td class="small"><${Time} value=${e.validFrom} />${e.validTo ? html` – <${Time} value=${e.validTo} />` : " –"}</td></tr>`)}</tbody>
      </table>`}`;
}

function DailyLogs() {
  const [day, setDay] = useState(new Date().toISOString().slice(0, 10));
  const logs = useAsync(() => api.get("/api/memory/daily-logs", { query: { date: day } }), [day]);
  return html`<${Field} label="Day"><input type="date" value=${day} onChange=${(e) => setDay(e.target.value)} /></${Field}>
    <${ErrorBox} error=${logs.error} />
    ${logs.data && (logs.data.items.length === 0 ? html`<${Empty}>No activity that day.</${Empty}>` :
      logs.data.items.map((log) => html`<section class="card" key=${log.agentId}>
        <h2>${log.agentId} ${!log.final && html`<span class="badge info">open day</span>`}</h2>
        <p>${log.summary}</p><ul>${log.lines.map((line, i) => html`<li key=${i}>${line}</li>`)}</ul>
      </section>`))}`;
}

export default function Memory() {
  const [tab, setTab] = useState("entries");
  const [entity, setEntity] = useState("");
  const openEntity = (name) => { setEntity(name); setTab("graph"); };
  return html`<${PageHead} title="Memory" />
    <${Tabs} label="Memory" current=${tab} onSelect=${setTab}
      tabs=${[["entries", "Entries"], ["search", "Search"], ["graph", "Graph"], ["logs", "Daily logs"]]}>
      ${tab === "entries" && html`<${Entries} onEntity=${openEntity} />`}
      ${tab === "search" && html`<${Search} />`}
      ${tab === "graph" && html`<${Graph} entity=${entity} setEntity=${setEntity} />`}
      ${tab === "logs" && html`<${DailyLogs} />`}
    </${Tabs}>`;
}
