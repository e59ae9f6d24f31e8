// Better Auth in the browser and the worker's token: the part of the demo a real
// frontend copies (docs/frontend.md shows this file as it is).
//
// The token lives in this module's memory only — never localStorage — so a script
// injected later cannot read one that was stored, and a reload simply asks for a new
// one with the session cookie.

import { createAuthClient } from 'better-auth/client';
import { jwtClient } from 'better-auth/client/plugins';

// No baseURL: Better Auth is served by this page's own origin at /api/auth, so its
// session cookie is first-party. Elsewhere pass baseURL: 'https://auth.example.com'.
export const authClient = createAuthClient({ plugins: [jwtClient()] });

/** The session is gone (signed out, expired, or signed out in another tab). */
export class SignedOutError extends Error {}

/** The JWT's claims; only `exp` and `iat` are read, to know when to renew. */
function claimsOf(token) {
  const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
}

/**
 * Hands out the current token and fetches a new one shortly before it expires: at the
 * last `marginSeconds` of its lifetime, or its last third when it lives shorter than
 * that. The expiry is measured from when the token arrived (exp − iat) as well as read
 * from `exp`, whichever comes first, so a browser clock that is off does not keep an
 * expired token in use. `onFetch` is told of every token fetched.
 */
export function createTokenSource({ marginSeconds = 60, onFetch = () => {} } = {}) {
  let current = null; // { token, renewAt }
  let pending = null;

  async function fetchToken() {
    const { data, error } = await authClient.token();
    if (error || !data?.token) {
      current = null;
      if (error && error.status !== 401) throw new Error(error.message || `token request failed (HTTP ${error.status})`);
      throw new SignedOutError('signed out');
    }
    const receivedAt = Date.now();
    const { exp, iat } = claimsOf(data.token);
    const lifetimeMs = (exp - (iat ?? Math.floor(receivedAt / 1000))) * 1000;
    const expiresAt = Math.min(receivedAt + lifetimeMs, exp * 1000);
    current = { token: data.token, renewAt: expiresAt - Math.min(marginSeconds * 1000, lifetimeMs / 3) };
    onFetch();
    return data.token;
  }

  return {
    /** A usable token; `fresh: true` fetches a new one (after a 401). */
    get({ fresh = false } = {}) {
      if (!fresh && current && Date.now() < current.renewAt) return Promise.resolve(current.token);
      // Concurrent callers share one request.
      pending ??= fetchToken().finally(() => {
        pending = null;
      });
      return pending;
    },
    /** Forget the token (on sign-out). */
    clear() {
      current = null;
    },
  };
}

/**
 * fetch() for the worker: adds `Authorization: Bearer`, and on a 401 fetches a new
 * token once and repeats the request (the token may have expired on the way, or the
 * keys rotated). Throws SignedOutError when no token can be had.
 */
export function createApiFetch({ apiBase, tokens }) {
  return async function apiFetch(path, init = {}) {
    const send = (token) =>
      fetch(new URL(path, apiBase), { ...init, headers: { ...init.headers, Authorization: `Bearer ${token}` } });
    const res = await send(await tokens.get());
    if (res.status !== 401) return res;
    return send(await tokens.get({ fresh: true }));
  };
}
