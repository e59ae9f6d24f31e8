// CORS (docs/api.md): an exact-origin allowlist. Allowed origins get preflight answers
// (204, the route's methods, `authorization, content-type`, Max-Age) without a token,
// and every actual answer — errors included — carries Access-Control-Allow-Origin.
// Everyone else, and every worker without an allowlist, gets no CORS headers at all.
// Tokens here are HS256 (AUTH_JWT_SECRET); no database is needed (it is unreachable,
// which also gives a 503 to check).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, authBindings, hmacKey, mintToken, startWorker } from './harness.mjs';

const ALLOWED = 'https://app.example.com';
const SECRET = 'cors-suite-shared-secret-of-32-bytes-or-more';
const SUB = 'cors-user-1';

let strict; // CORS_ALLOWED_ORIGINS=https://app.example.com
let pair; // two origins in the list
let empty; // CORS_ALLOWED_ORIGINS=""
let unset; // no CORS_ALLOWED_ORIGINS
let token;

beforeAll(async () => {
  [strict, pair, empty, unset] = await Promise.all([
    startWorker(authBindings({ AUTH_JWT_SECRET: SECRET, CORS_ALLOWED_ORIGINS: ALLOWED })),
    startWorker(authBindings({ AUTH_JWT_SECRET: SECRET, CORS_ALLOWED_ORIGINS: ' https://app.example.com , https://admin.example.com ' })),
    startWorker(authBindings({ AUTH_JWT_SECRET: SECRET, CORS_ALLOWED_ORIGINS: '' })),
    startWorker(authBindings({ AUTH_JWT_SECRET: SECRET })),
  ]);
  token = await mintToken(hmacKey(SECRET), { sub: SUB });
});

afterAll(async () => {
  await Promise.all([strict, pair, empty, unset].map((w) => w?.close()));
});

/** Every served path (a concrete instance of each route pattern) and its methods. */
const ROUTES = [
  ['/health', ['GET']],
  ['/openapi.json', ['GET']],
  ['/api/me', ['GET']],
  ['/api/tasks', ['GET', 'POST']],
  ['/api/tasks/1', ['GET', 'PUT', 'PATCH', 'DELETE']],
  ['/api/tasks/1/complete', ['PATCH']],
  [`/api/${SUB}/tasks`, ['GET', 'POST']],
  [`/api/${SUB}/tasks/1`, ['GET', 'PUT', 'PATCH', 'DELETE']],
  [`/api/${SUB}/tasks/1/complete`, ['PATCH']],
];

const list = (value) =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)
    .sort();

function corsHeaders(res) {
  return [...res.headers.keys()].filter((name) => name.startsWith('access-control-'));
}

function preflight(worker, path, origin, { method = 'GET', headers = 'authorization, content-type', extra = {} } = {}) {
  return worker.fetch(path, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': headers,
      ...extra,
    },
  });
}

describe('preflight from an allowed origin', () => {
  it.each(ROUTES)('OPTIONS %s → 204 with the route\'s methods, the allowed request headers and a max-age', async (path, methods) => {
    const res = await preflight(strict, path, ALLOWED, { method: methods.at(-1) });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(list(res.headers.get('access-control-allow-methods'))).toEqual(methods.map((m) => m.toLowerCase()).sort());
    expect(list(res.headers.get('access-control-allow-headers'))).toEqual(
      ['authorization', 'content-type', 'idempotency-key', 'if-match', 'if-none-match'],
    );
    const maxAge = res.headers.get('access-control-max-age');
    expect(maxAge).toMatch(/^[1-9]\d*$/);
    expect(Number(maxAge)).toBeLessThanOrEqual(86400);
    expect(list(res.headers.get('vary'))).toContain('origin');
    // Bearer tokens, not cookies: credentials are never allowed.
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('needs no token, and a bad one does not matter', async () => {
    for (const extra of [{}, { authorization: 'Bearer not.a.token' }, { authorization: 'Basic Zm9vOmJhcg==' }]) {
      const res = await preflight(strict, '/api/tasks/7', ALLOWED, { method: 'DELETE', extra });
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
      expect(res.headers.get('www-authenticate')).toBeNull();
    }
  });

  it('a preflight under another user\'s path is still answered (no token, so no 403 yet)', async () => {
    const res = await preflight(strict, '/api/someone-else/tasks/3/complete', ALLOWED, { method: 'PATCH' });
    expect(res.status).toBe(204);
    expect(list(res.headers.get('access-control-allow-methods'))).toEqual(['patch']);
  });

  it('each origin of a list is allowed and echoed alone, never the list or *', async () => {
    for (const origin of ['https://app.example.com', 'https://admin.example.com']) {
      const res = await preflight(pair, '/api/tasks', origin, { method: 'POST' });
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
      const actual = await pair.fetch('/health', { headers: { origin } });
      expect(actual.headers.get('access-control-allow-origin')).toBe(origin);
    }
    const other = await preflight(pair, '/api/tasks', 'https://evil.example.com', { method: 'POST' });
    expect(corsHeaders(other)).toEqual([]);
  });
});

const OTHER_ORIGINS = [
  'https://evil.example.com',
  'https://app.example.com.evil.com',
  'https://evilapp.example.com',
  'http://app.example.com',
  'https://APP.EXAMPLE.COM',
  'https://app.example.com:8443',
  'https://app.example.com/',
  'null',
  '*',
];

describe('other origins get no CORS headers', () => {
  it.each(OTHER_ORIGINS)('preflight from %s', async (origin) => {
    for (const [path, methods] of ROUTES) {
      const res = await preflight(strict, path, origin, { method: methods[0] });
      expect(corsHeaders(res), `${origin} ${path}`).toEqual([]);
      expect(res.status).toBeLessThan(500);
    }
  });

  it.each(OTHER_ORIGINS)('actual requests from %s', async (origin) => {
    const call = api(strict, token, { origin });
    for (const [method, path, body] of [
      ['GET', '/health'],
      ['GET', '/api/me'],
      ['GET', '/api/tasks'],
      ['POST', '/api/tasks', { title: '' }],
    ]) {
      const res = await call(method, path, body);
      expect(corsHeaders(res), `${origin} ${method} ${path}`).toEqual([]);
    }
  });

  it('requests without an Origin get none either', async () => {
    const res = await api(strict, token)('GET', '/api/me');
    expect(res.status).toBe(200);
    expect(corsHeaders(res)).toEqual([]);
    const pre = await strict.fetch('/api/tasks', { method: 'OPTIONS', headers: { 'access-control-request-method': 'GET' } });
    expect(corsHeaders(pre)).toEqual([]);
  });
});

describe('actual requests from the allowed origin', () => {
  const cases = () => [
    ['public 200', null, 'GET', '/health', undefined, 200],
    ['document 200', null, 'GET', '/openapi.json', undefined, 200],
    ['authenticated 200', token, 'GET', '/api/me', undefined, 200],
    ['missing token 401', null, 'GET', '/api/me', undefined, 401],
    ['refused token 401', 'not.a.token', 'GET', '/api/tasks', undefined, 401],
    ['other user 403', token, 'GET', '/api/someone-else/tasks', undefined, 403],
    ['unknown task id 404', token, 'GET', '/api/tasks/abc', undefined, 404],
    ['unknown route 404', token, 'GET', '/api/nothing', undefined, 404],
    ['wrong method 405', token, 'DELETE', '/api/tasks', undefined, 405],
    ['wrong media type 415', token, 'POST', '/api/tasks', 'title=x', 415],
    ['invalid input 422', token, 'POST', '/api/tasks', { title: '' }, 422],
    ['database unreachable 503', token, 'GET', '/api/tasks', undefined, 503],
  ];

  it('every answer, errors included, carries Access-Control-Allow-Origin and exposes the useful headers', async () => {
    for (const [label, bearer, method, path, body, status] of cases()) {
      const res = await api(strict, bearer, { origin: ALLOWED })(method, path, body);
      expect(res.status, label).toBe(status);
      expect(res.headers.get('access-control-allow-origin'), label).toBe(ALLOWED);
      expect(list(res.headers.get('vary')), label).toContain('origin');
      expect(res.headers.get('access-control-allow-credentials'), label).toBeNull();
      // A browser script can only read these if they are exposed: Location after a
      // create, Link for the next page, WWW-Authenticate and Retry-After on errors.
      const exposed = list(res.headers.get('access-control-expose-headers'));
      for (const name of ['location', 'link', 'www-authenticate', 'retry-after']) expect(exposed, label).toContain(name);
    }
  });
});

describe('no allowlist, no CORS', () => {
  it.each([
    ['CORS_ALLOWED_ORIGINS empty', () => empty],
    ['CORS_ALLOWED_ORIGINS unset', () => unset],
  ])('%s: neither preflights nor answers carry CORS headers', async (_label, worker) => {
    for (const [path, methods] of ROUTES) {
      const res = await preflight(worker(), path, ALLOWED, { method: methods[0] });
      expect(corsHeaders(res), path).toEqual([]);
    }
    const call = api(worker(), token, { origin: ALLOWED });
    for (const [method, path, status] of [
      ['GET', '/health', 200],
      ['GET', '/api/me', 200],
      ['GET', '/api/tasks', 503],
    ]) {
      const res = await call(method, path);
      expect(res.status).toBe(status);
      expect(corsHeaders(res), `${method} ${path}`).toEqual([]);
    }
    const anonymous = await api(worker(), null, { origin: ALLOWED })('GET', '/api/me');
    expect(anonymous.status).toBe(401);
    expect(corsHeaders(anonymous)).toEqual([]);
  });
});

describe('a broken configuration', () => {
  it('still lets the allowed origin read the 500 that says so, while /health answers', async () => {
    // The allowlist is read on its own; a missing AUTH_ISSUER breaks only the
    // protected routes, and a browser app must be able to read why.
    const broken = await startWorker(authBindings({ AUTH_JWT_SECRET: SECRET, CORS_ALLOWED_ORIGINS: ALLOWED, AUTH_ISSUER: '' }));
    try {
      const call = api(broken, token, { origin: ALLOWED });
      const health = await call('GET', '/health');
      expect(health.status).toBe(200);
      expect(health.headers.get('access-control-allow-origin')).toBe(ALLOWED);
      const me = await call('GET', '/api/me');
      expect(me.status).toBe(500);
      expect(me.headers.get('access-control-allow-origin')).toBe(ALLOWED);
      expect(me.body.detail).toMatch(/misconfigured/i);
      const other = await api(broken, token, { origin: 'https://evil.example' })('GET', '/api/me');
      expect(other.status).toBe(500);
      expect(corsHeaders(other)).toEqual([]);
    } finally {
      await broken.close();
    }
  });

  it('an invalid allowlist allows no origin anywhere, and protected routes name it', async () => {
    const broken = await startWorker(authBindings({ AUTH_JWT_SECRET: SECRET, CORS_ALLOWED_ORIGINS: 'https://app.example.com/' }));
    try {
      const call = api(broken, token, { origin: ALLOWED });
      const health = await call('GET', '/health');
      expect(health.status).toBe(200);
      expect(corsHeaders(health)).toEqual([]);
      const me = await call('GET', '/api/me');
      expect(me.status).toBe(500);
      expect(corsHeaders(me)).toEqual([]);
      expect(broken.logs.join('\n')).toContain('CORS_ALLOWED_ORIGINS');
    } finally {
      await broken.close();
    }
  });
});
