// Documents: upload (drag-and-drop or pick, a progress bar per file, the status chip following
// the pipeline), the library with filters, a document's metadata and text with its summary and
// download, search with highlighted passages, and questions answered with citations.
import { useRef, useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api, enc } from "../lib/api.js";
import { can, session } from "../lib/session.js";
import { uploadDocument } from "../lib/upload.js";
import { useDocumentStatus } from "../lib/documents.js";
import {
  ConfirmButton, Dialog, Empty, ErrorBox, Field, ListState, Loading, PageHead, Status, Tabs, Time, useAction, useAsync, usePaged, toast,
} from "../lib/ui.js";

const TYPES = ["pdf", "docx", "pptx", "xlsx", "csv", "html", "markdown", "text", "json", "image"];

function Snippet({ text }) {
  const decode = (part) => new DOMParser().parseFromString(part, "text/html").documentElement.textContent;
  const parts = text.split(/<\/?mark>/);
  return html`<span>${parts.map((p, i) => (i % 2 ? html`<mark>${decode(p)}</mark>` : decode(p)))}</span>`;
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function Upload({ onUploaded }) {
  const [uploads, setUploads] = useState([]);
  const [tags, setTags] = useState("");
  const [shared, setShared] = useState(false);
  const [over, setOver] = useState(false);
  const picker = useRef(null);
  const update = (key, patch) => setUploads((all) => all.map((u) => (u.key === key ? { ...u, ...patch } : u)));
  const start = (files) => {
    for (const file of files) {
      const key = `${file.name}-${Math.random()}`;
      setUploads((all) => [...all, { key, name: file.name, progress: 0, status: "Uploading", error: null, id: null }]);
      uploadDocument(file, { tags, visibility: shared ? "tenant" : "private" }, (p) => update(key, { progress: p }))
        .then((item) => { update(key, { progress: 1, status: item.status, id: item.id }); onUploaded(); })
        .catch((error) => update(key, { status: "Failed", error: error.message }));
    }
  };
  // follow the pipeline of the uploads still running
  useDocumentStatus(uploads, update, {
    every: 1000,
    onSettled: () => onUploaded(),
    onError: (key, error) => update(key, { error: error.message }),
  });
  return html`<section class="card stack">
    <h2>Upload documents</h2>
    <div class=${"dropzone" + (over ? " over" : "")} onDragOver=${(e) => { e.preventDefault(); setOver(true); }}
      onDragLeave=${() => setOver(false)} onDrop=${(e) => { e.preventDefault(); setOver(false); start([...e.dataTransfer.files]); }}>
      <p>Drop files here, or</p>
      <${Field} label="Choose files"><input type="file" multiple ref=${picker} onChange=${(e) => { start([...e.target.files]); e.target.value = ""; }} /></${Field}>
    </div>
    <div class="row">
      <${Field} label="Tags for new uploads"><input value=${tags} onInput=${(e) => setTags(e.target.value)} /></${Field}>
      <label class="row"><input type="checkbox" checked=${shared} onChange=${(e) => setShared(e.target.checked)} /> Share with the tenant</label>
    </div>
    ${uploads.length > 0 && html`<ul class="uploads">${uploads.map((u) => html`<li key=${u.key} class="row">
      <span>${u.name}</span>
      <progress max="1" value=${u.progress} aria-label=${`Upload of ${u.name}`}></progress>
      <${Status} value=${u.status} />
      ${u.error && html`<span class="small">${u.error}</span>`}
    </li>`)}</ul>`}
  </section>`;
}

async function download(doc) {
  const state = session.get();
  const headers = {};
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (state.tenant) headers["X-Sophon-Tenant"] = state.tenant;
  const response = await fetch(`/api/documents/${enc(doc.id)}/raw`, { headers, credentials: "same-origin" });
  if (!response.ok) throw new Error(`Download failed (${response.status}).`);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = doc.name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

const VECTORS = {
  ready: "ready",
  pending: "pending: the embedding service failed, retrying (found by its words meanwhile)",
  failed: "unavailable: the embedding service kept failing (found by its words only)",
};

function Detail({ id, onClose }) {
  const doc = useAsync(() => api.get(`/api/documents/${enc(id)}`, { query: { limit: 20000 } }), [id]);
  const summary = useAction((length) => api.post(`/api/documents/${enc(id)}/summarize`, { length }));
  const fetchRaw = useAction(async (d) => download(d));
  if (doc.error) return html`<${ErrorBox} error=${doc.error} />`;
  if (!doc.data) return html`<${Loading} />`;
  const d = doc.data;
  return html`<div class="stack">
    <dl class="facts">
      <dt>Type</dt><dd>${d.mimeType}</dd><dt>Size</dt><dd>${size(d.size)}</dd>
      <dt>Pages</dt><dd>${d.pages ?? "–"}</dd><dt>Language</dt><dd>${d.language || "–"}</dd>
      <dt>Status</dt><dd><${Status} value=${d.status} /> ${d.error || ""}</dd>
      ${d.vectors && html`<dt>Search by meaning</dt><dd>${VECTORS[d.vectors] || d.vectors}</dd>`}
      <dt>Uploaded</dt><dd><${Time} value=${d.createdAt} /></dd>
    </dl>
    ${d.notes.map((n) => html`<p class="notice">${n}</p>`)}
    <div class="row">
      <button type="button" class="secondary" onClick=${() => fetchRaw.run(d)}>Download original</button>
      ${d.status === "Ready" && html`<button type="button" onClick=${() => summary.run("short")} disabled=${summary.busy}>Summarize</button>`}
      <button type="button" class="secondary" onClick=${onClose}>Close</button>
    </div>
    <${ErrorBox} error=${summary.error || fetchRaw.error} />
    ${summary.busy && html`<${Loading} label="Summarising…" />`}
    ${summary.result && html`<section class="card" aria-label="Summary"><h3>Summary</h3><p>${summary.result.summary}</p></section>`}
    ${d.text && html`<h3>Text</h3><pre class="doc-text" tabindex="0">${d.text.content}</pre>
      ${d.text.hasMore && html`<p class="small muted">First ${d.text.content.length} of ${d.text.total} characters.</p>`}`}
  </div>`;
}

function Library({ reloadKey, initial }) {
  const [filters, setFilters] = useState({ status: "", type: "", tag: "", q: "" });
  const [applied, setApplied] = useState(filters);
  const list = usePaged("/api/documents", applied, [reloadKey]);
  const [open, setOpen] = useState(initial ? { id: initial, name: "Document" } : null);
  const remove = useAction(async (id) => {
    await api.del(`/api/documents/${enc(id)}`);
    toast("Document deleted.");
    list.reload();
  });
  const bind = (key) => ({ value: filters[key], onInput: (e) => setFilters({ ...filters, [key]: e.target.value }),
    onChange: (e) => setFilters({ ...filters, [key]: e.target.value }) });
  return html`<form class="row filters" onSubmit=${(e) => { e.preventDefault(); setApplied(filters); }}>
      <${Field} label="Name"><input type="search" ...${bind("q")} /></${Field}>
      <${Field} label="Status"><select ...${bind("status")}><option value="">Any</option>
        ${["Uploaded", "Extracting", "Indexing", "Ready", "Failed"].map((s) => html`<option value=${s}>${s}</option>`)}</select></${Field}>
      <${Field} label="Type"><select ...${bind("type")}><option value="">Any</option>
        ${TYPES.map((t) => html`<option value=${t}>${t}</option>`)}</select></${Field}>
      <${Field} label="Tag"><input ...${bind("tag")} /></${Field}>
      <button type="submit">Filter</button>
    </form>
    <${ErrorBox} error=${remove.error} />
    <${ListState} list=${list} empty="No documents yet.">
      <table><caption class="visually-hidden">Documents</caption>
        <thead><tr><th>Name</th><th>Type</th><th>Pages</th><th>Size</th><th>Status</th><th>Tags</th><th>Uploaded</th><th>Actions</th></tr></thead>
        <tbody>${list.items.map((d) => html`<tr key=${d.id}>
          <td>${d.name}</td><td>${d.format}</td><td>${d.pages ?? "–"}</td><td>${size(d.size)}</td>
          <td><${Status} value=${d.status} />${d.errorCode && html` <span class="small">${d.errorCode}</span>`}</td>
          <td>${d.tags.map((t) => html`<span class="badge" key=${t}>${t}</span> `)}</td>
          <td><${Time} value=${d.createdAt} /></td>
          <td class="row"><button type="button" class="secondary" onClick=${() => setOpen(d)} aria-label=${`Open ${d.name}`}>Open</button>
            <${ConfirmButton} onConfirm=${() => remove.run(d.id)} label=${`Delete ${d.name}?`}>Delete</${ConfirmButton}></td>
        </tr>`)}</tbody>
      </table>
    </${ListState}>
    <${Dialog} open=${!!open} title=${open ? open.name : "Document"} onClose=${() => setOpen(null)}>
      ${open && html`<${Detail} id=${open.id} onClose=${() => setOpen(null)} />`}
    </${Dialog}>`;
}

function Search() {
  const [q, setQ] = useState("");
  const [asked, setAsked] = useState("");
  const result = useAsync(() => (asked ? api.get("/api/documents/search", { query: { q: asked, limit: 20 } }) : null), [asked]);
  return html`<form class="row" role="search" onSubmit=${(e) => { e.preventDefault(); setAsked(q); }}>
      <${Field} label="Search documents"><input type="search" value=${q} onInput=${(e) => setQ(e.target.value)} /></${Field}>
      <button type="submit">Search</button>
    </form>
    <${ErrorBox} error=${result.error} />
    ${result.loading && asked && html`<${Loading} />`}
    ${result.data && (result.data.items.length === 0 ? html`<${Empty}>Nothing found.</${Empty}>` : html`
      <ol class="hits">${result.data.items.map((h) => html`<li class="card" key=${h.chunkId}>
        <div><${Snippet} text=${h.snippet} /></div>
        <div class="small muted">${h.documentName} · page ${h.page}${h.heading ? ` · ${h.heading}` : ""} · score ${h.score.toFixed(3)}</div>
      </li>`)}</ol>`)}`;
}

function Ask() {
  const [question, setQuestion] = useState("");
  const ask = useAction(() => api.post("/api/documents/ask", { question }));
  return html`<form class="stack" onSubmit=${(e) => { e.preventDefault(); ask.run(); }}>
      <${Field} label="Question about your documents"><textarea required value=${question} onInput=${(e) => setQuestion(e.target.value)}></textarea></${Field}>
      <div><button type="submit" disabled=${ask.busy}>Ask</button></div>
    </form>
    <${ErrorBox} error=${ask.error} />
    ${ask.busy && html`<${Loading} label="Reading…" />`}
    ${ask.result && html`<section class="card stack" aria-label="Answer">
      <p>${ask.result.answer}</p>
      ${ask.result.citations.length > 0 && html`<h3>Sources</h3><ol class="citations">${ask.result.citations.map((c) => html`<li key=${c.chunkId + c.start}>
        <blockquote>${c.quote}</blockquote><span class="small muted">${c.documentName}, page ${c.page}</span></li>`)}</ol>`}
    </section>`}`;
}

export default function Documents({ query }) {
  const [tab, setTab] = useState("library");
  const [reloadKey, setReloadKey] = useState(0);
  return html`<${PageHead} title="Documents" />
    <${Tabs} label="Documents" current=${tab} onSelect=${setTab}
      tabs=${[["library", "Library"], ["search", "Search"], ["ask", "Ask"]]}>
      ${tab === "library" && html`<${Upload} onUploaded=${() => setReloadKey((k) => k + 1)} /><${Library} reloadKey=${reloadKey} initial=${query && query.open} />`}
      ${tab === "search" && html`<${Search} />`}
      ${tab === "ask" && html`<${Ask} />`}
    </${Tabs}>`;
}
