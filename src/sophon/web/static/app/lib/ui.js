// Shared building blocks: loading/empty/error states, async data hooks, forms, tables, toasts.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { html } from "./html.js";
import { api } from "./api.js";
import { store, useStore } from "./store.js";

/** An API error as the user sees it: its message, code and the request id to quote. */
export function ErrorBox({ error, title = "Something went wrong" }) {
  if (!error) return null;
  const details = error.details || {};
  const problems = details.fields || details.errors; // validation fields; skill and tool errors
  return html`<div class="error" role="alert">
    <strong>${title}:</strong> ${error.message}
    ${Array.isArray(problems) &&
    html`<ul>${problems.map((p) => html`<li>${problemText(p)}</li>`)}</ul>`}
    <div class="muted small">
      ${error.code && html`<span>code <code>${error.code}</code></span>`}
      ${error.requestId && html` · request id <code class="request-id">${error.requestId}</code>`}
    </div>
  </div>`;
}

function problemText(problem) {
  if (typeof problem === "string") return problem;
  const where = problem.field || problem.path || (problem.loc || []).join(".");
  const what = problem.message || problem.msg || "";
  return where ? `${where}: ${what}` : what;
}

export function Loading({ label = "Loading…" }) {
  return html`<p class="loading" role="status" aria-live="polite">${label}</p>`;
}

export function Empty({ children }) {
  return html`<p class="empty">${children}</p>`;
}

/** Runs `load()` (an async function) when `deps` change: {data, error, loading, reload, set}. */
export function useAsync(load, deps = []) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const run = useRef(0);
  const reload = useCallback(() => {
    const mine = ++run.current;
    setState((s) => ({ ...s, loading: true, error: null }));
    Promise.resolve()
      .then(load)
      .then(
        (data) => mine === run.current && setState({ data, error: null, loading: false }),
        (error) => mine === run.current && setState({ data: undefined, error, loading: false }),
      );
  }, deps);
  useEffect(reload, [reload]);
  const set = (data) => setState((s) => ({ ...s, data: typeof data === "function" ? data(s.data) : data }));
  return { ...state, reload, set };
}

/** A cursor-paged list: first page on mount, `more()` appends the next. */
export function usePaged(path, query = {}, deps = []) {
  const [state, setState] = useState({ items: [], cursor: null, hasMore: false, loading: true, error: null });
  const key = JSON.stringify([path, query]);
  const fetchPage = useCallback(
    async (cursor, append) => {
      setState((s) => ({ ...s, loading: true, error: null }));
      try {
        const page = await api.get(path, { query: { limit: 50, ...query, cursor } });
        setState((s) => ({
          items: append ? [...s.items, ...page.items] : page.items,
          cursor: page.nextCursor,
          hasMore: page.hasMore,
          loading: false,
          error: null,
        }));
      } catch (error) {
        setState((s) => ({ ...s, loading: false, error }));
      }
    },
    [key, ...deps],
  );
  useEffect(() => {
    fetchPage(undefined, false);
  }, [fetchPage]);
  return {
    ...state,
    reload: () => fetchPage(undefined, false),
    more: () => fetchPage(state.cursor, true),
    setItems: (fn) => setState((s) => ({ ...s, items: fn(s.items) })),
  };
}

export function MoreButton({ list }) {
  if (!list.hasMore) return null;
  return html`<button type="button" class="secondary" onClick=${list.more} disabled=${list.loading}>
    Load more
  </button>`;
}

/** A list's standard states: error, first load, empty, then `children`. */
export function ListState({ list, empty, children }) {
  return html`<${ErrorBox} error=${list.error} />
    ${list.loading && list.items.length === 0 && html`<${Loading} />`}
    ${!list.loading && !list.error && list.items.length === 0 && html`<${Empty}>${empty}</${Empty}>`}
    ${list.items.length > 0 && children}
    <${MoreButton} list=${list} />`;
}

/** A labelled control: `<${Field} label="Name"><input …/></${Field}>`. */
export function Field({ label, hint, children }) {
  return html`<label class="field"><span class="label">${label}</span>${children}${hint &&
    html`<span class="hint">${hint}</span>`}</label>`;
}

/** Runs an async action from a form or button, tracking busy and error state. */
export function useAction(action) {
  const [state, setState] = useState({ busy: false, error: null, result: undefined });
  const run = async (...args) => {
    setState({ busy: true, error: null, result: undefined });
    try {
      const result = await action(...args);
      setState({ busy: false, error: null, result });
      return result;
    } catch (error) {
      setState({ busy: false, error, result: undefined });
      return undefined;
    }
  };
  return { ...state, run, clear: () => setState({ busy: false, error: null, result: undefined }) };
}

/** A button that asks once more before doing something destructive. The focus follows: to "No"
 * when asking (the safe choice; Shift+Tab reaches "Yes"), back to the button when not confirmed
 * ("No" or Escape). */
export function ConfirmButton({ onConfirm, children, label = "Are you sure?", class: cls = "danger", disabled }) {
  const [asking, setAsking] = useState(false);
  const button = useRef(null);
  const no = useRef(null);
  const moved = useRef(false);
  useEffect(() => {
    if (!moved.current) return;
    const target = asking ? no.current : button.current;
    if (target) target.focus();
  }, [asking]);
  const ask = (value) => {
    moved.current = true;
    setAsking(value);
  };
  if (!asking) {
    return html`<button type="button" class=${cls} disabled=${disabled} ref=${button} onClick=${() => ask(true)}>${children}</button>`;
  }
  return html`<span class="confirm" role="group" aria-label=${label} onKeyDown=${(e) => e.key === "Escape" && ask(false)}>
    <span>${label}</span>
    <button type="button" class="danger" onClick=${() => { moved.current = false; setAsking(false); onConfirm(); }}>Yes</button>
    <button type="button" class="secondary" ref=${no} onClick=${() => ask(false)}>No</button>
  </span>`;
}

export function Time({ value }) {
  if (!value) return html`<span class="muted">—</span>`;
  const date = new Date(value);
  return html`<time datetime=${value} title=${value}>${date.toLocaleString()}</time>`;
}

export function Badge({ children, tone = "" }) {
  return html`<span class=${"badge " + tone}>${children}</span>`;
}

const TONES = {
  Completed: "ok", Approved: "ok", Active: "ok", ok: "ok", healthy: "ok", Running: "info",
  Queued: "info", Pending: "warn", Failed: "bad", Rejected: "bad", Cancelled: "muted",
  Expired: "muted", Suspended: "bad", Low: "ok", Medium: "warn", High: "bad", Critical: "bad",
};
export function Status({ value }) {
  return html`<${Badge} tone=${TONES[value] || ""}>${value}</${Badge}>`;
}

export function Json({ value }) {
  return html`<pre class="json" tabindex="0">${JSON.stringify(value, null, 2)}</pre>`;
}

// toasts: short confirmations, announced politely
const toasts = store([]);
let toastId = 0;
export function toast(message, tone = "ok") {
  const id = ++toastId;
  toasts.set((list) => [...list, { id, message, tone }]);
  setTimeout(() => toasts.set((list) => list.filter((t) => t.id !== id)), 4000);
}
export function Toasts() {
  const list = useStore(toasts);
  return html`<div class="toasts" role="status" aria-live="polite">
    ${list.map((t) => html`<div class=${"toast " + t.tone} key=${t.id}>${t.message}</div>`)}
  </div>`;
}

/** A modal dialog (the native <dialog>: focus trapped, Escape closes). */
export function Dialog({ open, title, onClose, children }) {
  const ref = useRef(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return html`<dialog ref=${ref} aria-label=${title} onClose=${onClose}>
    ${open && html`<div class="dialog-head"><h2>${title}</h2>
      <button type="button" class="icon" aria-label="Close" onClick=${onClose}>×</button></div>
      ${children}`}
  </dialog>`;
}

/** WAI-ARIA tabs: `<${Tabs} label="Memory" tabs=${[["a", "A"], …]} current=${key} onSelect=${set}>`
 * the current tab's panel `</${Tabs}>`. Left/Right (wrapping), Home and End move between tabs
 * and select them; only the selected tab is in the Tab order (roving tabindex). */
export function Tabs({ tabs, current, onSelect, label, children }) {
  const list = useRef(null);
  const base = "tabs-" + label.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  const index = Math.max(0, tabs.findIndex(([key]) => key === current));
  const move = (e) => {
    const last = tabs.length - 1;
    const to = { ArrowRight: index === last ? 0 : index + 1, ArrowLeft: index === 0 ? last : index - 1,
      Home: 0, End: last }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    onSelect(tabs[to][0]);
    list.current.querySelectorAll('[role="tab"]')[to].focus();
  };
  return html`<div class="tabs" role="tablist" aria-label=${label} ref=${list} onKeyDown=${move}>
    ${tabs.map(
      ([key, text], i) => html`<button type="button" role="tab" key=${key} id=${`${base}-${key}`}
        aria-selected=${i === index ? "true" : "false"} aria-controls=${`${base}-panel`}
        tabindex=${i === index ? 0 : -1} class=${i === index ? "tab active" : "tab"}
        onClick=${() => onSelect(key)}>${text}</button>`,
    )}
  </div>
  <div role="tabpanel" id=${`${base}-panel`} aria-labelledby=${`${base}-${tabs[index][0]}`}>${children}</div>`;
}

export function PageHead({ title, children }) {
  useEffect(() => {
    document.title = `${title} · Sophon`;
  }, [title]);
  return html`<div class="page-head"><h1 id="page-title" tabindex="-1">${title}</h1>
    <div class="actions">${children}</div></div>`;
}
