// The frame around every page: skip link, header with the navigation (only pages the user may
// use), tenant switcher, theme, account and sign-out; the page itself in <main>.
import { useState } from "preact/hooks";
import { html } from "./lib/html.js";
import { session, can, hasFeature } from "./lib/session.js";
import { useStore } from "./lib/store.js";
import { signOut, switchTenant } from "./lib/auth.js";
import { Toasts } from "./lib/ui.js";
import { routes } from "./routes.js";
import { ThemePicker } from "./theme.js";

export function allowed(route) {
  return (!route.any || can(...route.any)) && (!route.feature || hasFeature(route.feature));
}

function Nav({ current, onPick }) {
  const groups = new Map();
  for (const route of routes) {
    if (!route.nav || !allowed(route)) continue;
    if (!groups.has(route.nav)) groups.set(route.nav, []);
    groups.get(route.nav).push(route);
  }
  return html`<nav id="nav" aria-label="Main">
    ${[...groups].map(
      ([group, items]) => html`<div class="nav-group">
        <h2 class="nav-title">${group}</h2>
        <ul>
          ${items.map((route) => {
            const active = current === route.path || current.startsWith(route.path + "/");
            return html`<li><a href=${route.path} onClick=${onPick}
              aria-current=${active ? "page" : undefined}>${route.title}</a></li>`;
          })}
        </ul>
      </div>`,
    )}
  </nav>`;
}

function TenantSwitcher({ me }) {
  const state = useStore(session);
  if (!me.tenants || me.tenants.length < 2) return null;
  const current = state.tenant || me.tenant.slug;
  return html`<label class="tenant">
    <span class="visually-hidden">Tenant</span>
    <select aria-label="Tenant" value=${current} onChange=${(e) => switchTenant(e.target.value)}>
      ${me.tenants.map((t) => html`<option value=${t.slug}>${t.name}</option>`)}
    </select>
  </label>`;
}

export function Layout({ path, children }) {
  const { me } = useStore(session);
  const [open, setOpen] = useState(false);
  return html`<div class=${open ? "shell nav-open" : "shell"}>
    <a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <button type="button" class="icon menu" aria-controls="nav" aria-expanded=${open}
        aria-label="Menu" onClick=${() => setOpen(!open)}>☰</button>
      <a class="brand" href="/">Sophon</a>
      <div class="spacer"></div>
      ${me && html`<${TenantSwitcher} me=${me} />`}
      <${ThemePicker} />
      ${me && html`<a class="who" href="/account" title=${me.user.email}>${me.user.displayName}</a>`}
      ${me && me.authMethod !== "auto_admin" &&
      html`<button type="button" class="secondary" onClick=${() => signOut()}>Sign out</button>`}
    </header>
    <div class="body">
      <${Nav} current=${path} onPick=${() => setOpen(false)} />
      <main id="main" tabindex="-1">${children}</main>
    </div>
    <${Toasts} />
  </div>`;
}
