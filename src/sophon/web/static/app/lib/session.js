// Who is signed in. The access token lives here, in memory only: never in localStorage or a
// readable cookie. A reload gets a new one from the httpOnly refresh cookie (see api.js).
import { store } from "./store.js";

export const session = store({
  token: null, // the JWT, or null (AutoAdmin needs none)
  expiresAt: null,
  me: null, // GET /api/auth/me
  tenant: null, // slug sent as X-Sophon-Tenant when switched away from the session's own
  expired: false, // the session ended while the app was open: sign in again, then come back
});

export function can(...permissions) {
  const me = session.get().me;
  return !!me && permissions.some((p) => me.permissions.includes(p));
}

export function canAll(...permissions) {
  const me = session.get().me;
  return !!me && permissions.every((p) => me.permissions.includes(p));
}

/** Whether the licence grants `feature` (e.g. `multi_tenancy`, `rbac`). */
export function hasFeature(feature) {
  const me = session.get().me;
  return !!me && (me.features || []).includes(feature);
}
