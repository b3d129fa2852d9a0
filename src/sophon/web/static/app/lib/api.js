// The REST client: JSON in and out, the bearer token from memory, the tenant header, one quiet
// refresh and retry on 401, and every failure thrown as an ApiError carrying the Gateway's
// error envelope (code, message, details) and its request id.
import { session } from "./session.js";

export class ApiError extends Error {
  constructor(status, envelope, requestId) {
    const error = (envelope && envelope.error) || {};
    super(error.message || `The Gateway answered ${status}.`);
    this.status = status;
    this.code = error.code || (status ? "http_" + status : "network_error");
    this.details = error.details || {};
    this.requestId = error.requestId || requestId || null;
  }
}

const REFRESH_URL = "/api/auth/refresh/cookie";
let refreshing = null;
let timer = null;
// every request of the signed-in session; signing out aborts those still in flight
let inflight = new AbortController();

/** Applies a LoginOut ({accessToken, expiresAt}) and schedules the next quiet refresh. */
export function acceptLogin(out) {
  session.set((s) => ({ ...s, token: out.accessToken, expiresAt: out.expiresAt, expired: false }));
  clearTimeout(timer);
  const due = new Date(out.expiresAt).getTime() - Date.now() - 60_000;
  timer = setTimeout(() => refreshAccess(), Math.max(due, 5_000));
}

export function forgetLogin() {
  clearTimeout(timer);
  inflight.abort();
  inflight = new AbortController();
  session.set((s) => ({ ...s, token: null, expiresAt: null, me: null, tenant: null }));
}

/** A new access token from the refresh cookie (httpOnly, SameSite=Strict, scoped to its
 * endpoint); the custom header is the CSRF guard. One refresh at a time. */
export function refreshAccess() {
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const response = await fetch(REFRESH_URL, {
          method: "POST",
          headers: { "X-Sophon-CSRF": "1", Accept: "application/json" },
          credentials: "same-origin",
        });
        if (!response.ok) return false;
        acceptLogin(await response.json());
        return true;
      } catch {
        return false;
      }
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

function queryString(query) {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) params.append(key, String(one));
  }
  const text = params.toString();
  return text ? "?" + text : "";
}

export async function request(method, path, options = {}) {
  const { body, query, headers = {}, raw = false, signal, retry = true } = options;
  const state = session.get();
  const sent = { Accept: "application/json", ...headers };
  if (state.token) sent.Authorization = `Bearer ${state.token}`;
  if (state.tenant && !sent["X-Sophon-Tenant"]) sent["X-Sophon-Tenant"] = state.tenant;
  let payload = body;
  if (body !== undefined && !(body instanceof FormData) && !(body instanceof Blob)) {
    sent["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    const both = signal ? AbortSignal.any([signal, inflight.signal]) : inflight.signal;
    response = await fetch(path + queryString(query), {
      method, headers: sent, body: payload, signal: both, credentials: "same-origin",
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { error: { message: "The Gateway could not be reached." } }, null);
  }
  if (response.status === 401 && retry && state.token && session.get().token === state.token) {
    if (await refreshAccess()) return request(method, path, { ...options, retry: false });
    session.set((s) => ({ ...s, token: null, expired: true }));
  }
  if (!response.ok) {
    let envelope = null;
    try {
      envelope = await response.json();
    } catch {
      envelope = null;
    }
    throw new ApiError(response.status, envelope, response.headers.get("X-Sophon-Request-Id"));
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export const api = {
  get: (path, options) => request("GET", path, options),
  post: (path, body, options) => request("POST", path, { ...options, body }),
  put: (path, body, options) => request("PUT", path, { ...options, body }),
  patch: (path, body, options) => request("PATCH", path, { ...options, body }),
  del: (path, options) => request("DELETE", path, options),
};

/** Every item of a cursor-paged list, up to `max` (lists answer {items, nextCursor, hasMore}). */
export async function listAll(path, query = {}, max = 1000) {
  const items = [];
  let cursor;
  do {
    const page = await api.get(path, { query: { ...query, limit: 200, cursor } });
    items.push(...page.items);
    cursor = page.hasMore ? page.nextCursor : undefined;
  } while (cursor && items.length < max);
  return items;
}

export const enc = encodeURIComponent;
