// The entry point: decides between setup, sign-in and the app, then routes by path.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { html } from "./lib/html.js";
import { boot } from "./lib/auth.js";
import { session } from "./lib/session.js";
import { useStore } from "./lib/store.js";
import { location, match, navigate, queryParams } from "./lib/router.js";
import { ErrorBox, Loading, PageHead } from "./lib/ui.js";
import { routes } from "./routes.js";
import { Layout, allowed } from "./layout.js";
import { SignIn } from "./signin.js";
import { applyTheme } from "./theme.js";

applyTheme();
const modules = new Map();

function usePageModule(route) {
  const [state, setState] = useState({ route: null, Page: null, error: null });
  useEffect(() => {
    let live = true;
    if (!modules.has(route)) modules.set(route, route.page());
    modules.get(route).then(
      (mod) => live && setState({ route, Page: mod.default, error: null }),
      (error) => {
        modules.delete(route);
        if (live) setState({ route, Page: null, error });
      },
    );
    return () => {
      live = false;
    };
  }, [route]);
  return state.route === route ? state : { Page: null, error: null };
}

function Forbidden() {
  return html`<${PageHead} title="Not allowed" />
    <p>Your role does not include this page. An administrator can grant it.</p>`;
}

function NotFound() {
  return html`<${PageHead} title="Page not found" />
    <p>Nothing lives at this address. <a href="/">Go to the start page</a>.</p>`;
}

function Routed({ route, params }) {
  const { Page, error } = usePageModule(route);
  if (error) return html`<${ErrorBox} error=${error} title="This page failed to load" />`;
  if (!Page) return html`<${Loading} />`;
  return html`<${Page} params=${params} query=${queryParams()} />`;
}

function App() {
  const full = useStore(location);
  const pathname = full.split("?")[0];
  useStore(session); // permissions may change (tenant switch)
  const home = routes.find((r) => r.nav && allowed(r));
  useEffect(() => {
    if (pathname === "/" && home) navigate(home.path, { replace: true });
  }, [pathname, home]);
  useEffect(() => {
    const heading = document.getElementById("page-title");
    if (heading && document.activeElement === document.body) heading.focus({ preventScroll: true });
  }, [full]);
  const found = pathname === "/" ? null : match(routes, pathname);
  let content;
  if (pathname === "/") content = home ? html`<${Loading} />` : html`<${PageHead} title="Welcome" />`;
  else if (!found) content = html`<${NotFound} />`;
  else if (!allowed(found.route)) content = html`<${Forbidden} />`;
  else content = html`<${Routed} key=${found.route.path} route=${found.route} params=${found.params} />`;
  return html`<${Layout} path=${pathname}>${content}</${Layout}>`;
}

function Root() {
  const [phase, setPhase] = useState("boot");
  const [error, setError] = useState(null);
  const state = useStore(session);
  const start = () => {
    setError(null);
    boot().then(setPhase, setError);
  };
  useEffect(start, []);
  if (error) {
    return html`<main class="center" id="main">
      <${ErrorBox} error=${error} title="The Gateway could not be reached" />
      <button type="button" onClick=${start}>Try again</button>
    </main>`;
  }
  if (phase === "boot") return html`<main class="center" id="main"><${Loading} label="Starting…" /></main>`;
  if (!state.me || state.expired) {
    const mode = phase === "setup" && !state.expired ? "setup" : "signin";
    return html`<${SignIn} mode=${mode} expired=${state.expired} onDone=${() => setPhase("app")} />`;
  }
  return html`<${App} />`;
}

const root = document.getElementById("app");
root.textContent = ""; // the boot message goes
render(html`<${Root} />`, root);
