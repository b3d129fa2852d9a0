// The official SignalR client (@microsoft/signalr's browser build, loaded on first use) talking
// to /hubs/<name> with the in-memory access token; reconnects by itself.
import { useEffect, useRef, useState } from "preact/hooks";
import { refreshAccess } from "./api.js";
import { session } from "./session.js";

const SCRIPT = new URL("../../vendor/@microsoft/signalr/dist/browser/signalr.min.js", import.meta.url);
let loading = null;

export function loadSignalR() {
  if (window.signalR) return Promise.resolve(window.signalR);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = SCRIPT.href;
      script.onload = () => resolve(window.signalR);
      script.onerror = () => reject(new Error("The SignalR client failed to load."));
      document.head.append(script);
    });
  }
  return loading;
}

async function token() {
  const state = session.get();
  if (state.token && new Date(state.expiresAt).getTime() - Date.now() < 30_000) {
    await refreshAccess();
  }
  const current = session.get().token;
  if (!current) throw new Error("Signed out."); // no request that could only be refused
  return current;
}

/** A started connection to `/hubs/<hub>` with `handlers` ({EventName: fn}) registered; null
 * when `cancelled()` turned true meanwhile (the page went away before the client loaded). */
export async function connectHub(hub, handlers = {}, cancelled = () => false) {
  const signalR = await loadSignalR();
  if (cancelled()) return null;
  const tenant = session.get().tenant;
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(`/hubs/${hub}`, {
      accessTokenFactory: token,
      headers: tenant ? { "X-Sophon-Tenant": tenant } : {},
    })
    .withAutomaticReconnect()
    .configureLogging(signalR.LogLevel.None)
    .build();
  for (const [name, handler] of Object.entries(handlers)) connection.on(name, handler);
  await connection.start();
  return connection;
}

/** Keeps a hub connection open while the component is mounted. `handlers` may change between
 * renders (the latest ones are called). Returns {connection, state, error}. */
export function useHub(hub, handlers, enabled = true) {
  const latest = useRef(handlers);
  latest.current = handlers;
  const [state, setState] = useState({ connection: null, state: "connecting", error: null });
  useEffect(() => {
    if (!enabled) return undefined;
    let stopped = false;
    let connection = null;
    const names = Object.keys(handlers);
    const proxies = Object.fromEntries(
      names.map((name) => [name, (...args) => latest.current[name]?.(...args)]),
    );
    connectHub(hub, proxies, () => stopped).then(
      (made) => {
        connection = made;
        if (!made) return null;
        if (stopped) return made.stop();
        made.onreconnecting(() => setState((s) => ({ ...s, state: "reconnecting" })));
        made.onreconnected(() => setState((s) => ({ ...s, state: "connected" })));
        made.onclose(() => !stopped && setState((s) => ({ ...s, state: "disconnected" })));
        setState({ connection: made, state: "connected", error: null });
        return null;
      },
      (error) => !stopped && setState({ connection: null, state: "failed", error }),
    );
    return () => {
      stopped = true;
      if (connection) connection.stop();
    };
  }, [hub, enabled, session.get().tenant]);
  return state;
}
