// Signing in and out. `boot()` decides what a fresh page load shows: the app (a refresh cookie
// still names a live session, or the Gateway runs AutoAdmin), the first-run setup form (no user
// exists yet), or the sign-in form.
import { api, acceptLogin, forgetLogin, refreshAccess } from "./api.js";
import { session } from "./session.js";

const KEEP = { "X-Sophon-Refresh": "cookie" }; // asks the Gateway for the refresh cookie

export async function loadMe() {
  let me;
  try {
    me = await api.get("/api/auth/me");
  } catch (error) {
    if (error.status !== 403 || !session.get().tenant) throw error;
    // no longer a member of the tenant this tab had switched to: back to the session's own
    sessionStorage.removeItem(TENANT);
    session.set((s) => ({ ...s, tenant: null }));
    me = await api.get("/api/auth/me");
  }
  session.set((s) => ({ ...s, me }));
  return me;
}

// a hint, not a secret: whether this browser holds a refresh cookie worth trying
const HINT = "sophon.signedIn";

const TENANT = "sophon.tenant";

export async function boot() {
  const tenant = sessionStorage.getItem(TENANT);
  if (tenant) session.set((s) => ({ ...s, tenant }));
  if (localStorage.getItem(HINT)) {
    if (await refreshAccess()) {
      await loadMe();
      return "app";
    }
    localStorage.removeItem(HINT);
  }
  const status = await api.get("/api/auth/setup");
  if (status.autoAdmin) {
    await loadMe(); // AutoAdmin: requests need no credentials
    return "app";
  }
  return status.required ? "setup" : "signin";
}

export async function signIn(email, password) {
  acceptLogin(await api.post("/api/auth/login", { email, password }, { headers: KEEP, retry: false }));
  localStorage.setItem(HINT, "1");
  await loadMe();
}

export async function setUp(fields) {
  acceptLogin(await api.post("/api/auth/setup", fields, { headers: KEEP, retry: false }));
  localStorage.setItem(HINT, "1");
  await loadMe();
}

export async function signOut() {
  // leave at once (pages unmount, hubs stop), then end the session with the token we held
  const token = session.get().token;
  localStorage.removeItem(HINT);
  sessionStorage.removeItem(TENANT);
  forgetLogin();
  await new Promise((resolve) => setTimeout(resolve)); // the re-render has unmounted them
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  try {
    await api.post("/api/auth/logout", undefined, { retry: false, headers });
  } catch {
    // the session may have ended already; either way this browser is signed out
  }
}

/** Acts in another tenant the user belongs to (X-Sophon-Tenant on every request). */
export async function switchTenant(slug) {
  sessionStorage.setItem(TENANT, slug); // a preference for this tab, not a secret
  session.set((s) => ({ ...s, tenant: slug }));
  await loadMe();
}
