// History-API routing: real paths (/chat, /agents/agt_…), back and forward, and same-origin
// links that navigate without reloading. A route table entry: {path, title, page, ...}.
import { store } from "./store.js";

const here = () => window.location.pathname + window.location.search;
export const location = store(here());
const SERVER = /^\/(api|hubs|mcp|swagger|metrics|assets)(\/|$)/;

export function navigate(to, { replace = false } = {}) {
  if (to === here()) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  location.set(here());
  window.scrollTo(0, 0);
}

window.addEventListener("popstate", () => location.set(here()));
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href, window.location.href);
  if (url.origin !== window.location.origin || SERVER.test(url.pathname)) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});

/** The first route whose pattern (`/agents/:id`) fits `pathname`, with its params. */
export function match(routes, pathname) {
  const parts = pathname.replace(/\/+$/, "").split("/").filter(Boolean);
  for (const route of routes) {
    const pattern = route.path.split("/").filter(Boolean);
    if (pattern.length !== parts.length) continue;
    const params = {};
    const fits = pattern.every((segment, i) => {
      if (segment.startsWith(":")) {
        params[segment.slice(1)] = decodeURIComponent(parts[i]);
        return true;
      }
      return segment === parts[i];
    });
    if (fits) return { route, params };
  }
  return null;
}

export function queryParams() {
  return Object.fromEntries(new URLSearchParams(window.location.search));
}
