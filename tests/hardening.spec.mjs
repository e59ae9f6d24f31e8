// Hardening of the worker: each case shows the bad case refused.
// - the connection string never reaches another host (a redirecting SQL endpoint);
// - response headers (nosniff, Cache-Control, Vary, exposed headers, Server-Timing);
// - the per-user task quota (409), race-free on a real PostgreSQL server;
// - the per-user write rate limit (429), before the body is read or the database called;
// - a forged list cursor is a 422 naming `cursor`.
// JWKS, algorithm and configuration hardening are in auth-hardening.spec.mjs.

import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  backendName,
  expectProblem,
  signUpAndGetToken,
  sqlDelta,
  stackBindings,
  startLocalStack,
  startSqlDouble,
  startWorker,
  taskDb,
  TEST_DB_PASSWORD,
  waitForRequestLog,
} from './harness.mjs';

const ORIGIN = 'https://app.example.test';

let stack;
let db;
let user;

beforeAll(async () => {
  stack = await startLocalStack();
  db = taskDb(stack);
  user = await signUpAndGetToken(stack);
});

afterAll(async () => {
  await stack?.close();
});

/** A server that records every request it gets and answers 200 `{}`. */
async function startRecorder() {
  const received = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/sql`,
    received,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

describe('the connection string never reaches another host', () => {
  it.each([301, 302, 303, 307, 308])(
    'an SQL endpoint answering %i → 503, not retried, and the redirect target receives nothing',
    async (status) => {
      const recorder = await startRecorder();
      const double = await startSqlDouble();
      double.respond = () => ({ status, body: '', headers: { location: recorder.url } });
      const worker = await startWorker(stackBindings(stack, { NEON_SQL_ENDPOINT: double.url }));
      try {
        const call = api(worker, user.token);
        for (const [method, path, body] of [
          ['GET', '/api/tasks'],
          ['GET', '/api/tasks/1'],
          ['POST', '/api/tasks', { title: 'never sent anywhere else' }],
        ]) {
          const before = double.hits;
          const res = await call(method, path, body);
          expectProblem(res, 503);
          expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
          // Reads are retried after a transient failure; a redirect is not one.
          expect(double.hits - before, `${method} ${path}`).toBe(1);
        }
        expect(recorder.received).toEqual([]);
        expect(JSON.stringify(worker.logs)).not.toContain(TEST_DB_PASSWORD);
      } finally {
        await worker.close();
        await double.close();
        await recorder.close();
      }
    },
  );
});

describe('response headers', () => {
  let worker;
  let call;
  beforeAll(async () => {
    worker = await startWorker(stackBindings(stack, { CORS_ALLOWED_ORIGINS: ORIGIN }));
    call = api(worker, user.token);
  });
  afterAll(() => worker?.close());

  const raw = (path, init = {}) => worker.fetch(path, init);

  it('X-Content-Type-Options: nosniff on every route, errors included', async () => {
    for (const [path, init] of [
      ['/health', {}],
      ['/openapi.json', {}],
      ['/nowhere', {}],
      ['/api/me', {}],
      ['/api/tasks', { method: 'DELETE' }],
      ['/api/tasks', { method: 'OPTIONS' }],
    ]) {
      const res = await raw(path, init);
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
    }
  });

  it('Cache-Control: no-store on every /api/ response; public routes are not marked', async () => {
    const created = await call('POST', '/api/tasks', { title: 'cache me not' });
    for (const res of [
      created,
      await call('GET', '/api/tasks'),
      await call('GET', '/api/me'),
      await call('GET', '/api/tasks/999999999'),
      await raw('/api/tasks'),
    ]) {
      expect(res.headers.get('cache-control'), `${res.status}`).toBe('no-store');
    }
    expect((await raw('/health')).headers.get('cache-control')).toBeNull();
  });

  it('Vary: Origin on every response when CORS is configured, allowed origin or not', async () => {
    for (const origin of [ORIGIN, 'https://evil.example.test', undefined]) {
      const headers = origin ? { origin } : {};
      for (const res of [
        await raw('/health', { headers }),
        await raw('/api/me', { headers }),
        await raw('/api/tasks', { method: 'OPTIONS', headers: { ...headers, 'access-control-request-method': 'GET' } }),
      ]) {
        expect(res.headers.get('vary'), `${origin} ${res.status}`).toMatch(/\bOrigin\b/);
        expect(res.headers.get('access-control-allow-origin')).toBe(origin === ORIGIN ? ORIGIN : null);
      }
    }
    const unconfigured = await startWorker(stackBindings(stack));
    try {
      expect((await unconfigured.fetch('/health', { headers: { origin: ORIGIN } })).headers.get('vary')).toBeNull();
    } finally {
      await unconfigured.close();
    }
  });

  it('an allowed origin may read ETag, Location, Link, Retry-After, Server-Timing and WWW-Authenticate, and timing', async () => {
    const res = await raw('/api/me', { headers: { origin: ORIGIN } });
    expect(res.headers.get('access-control-expose-headers')).toBe('etag, location, link, retry-after, server-timing, www-authenticate');
    expect(res.headers.get('timing-allow-origin')).toBe(ORIGIN);
    const preflight = await raw('/api/tasks/1', {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'if-match' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization, content-type, if-match, if-none-match, idempotency-key');
  });

  it('Server-Timing on /api/ responses: auth always, db when the database was called', async () => {
    const entry = (name) => new RegExp(`(^|, )${name};dur=\\d+(\\.\\d+)?($|, )`);
    const listed = await call('GET', '/api/tasks');
    expect(listed.headers.get('server-timing')).toMatch(entry('auth'));
    expect(listed.headers.get('server-timing')).toMatch(entry('db'));
    const me = await call('GET', '/api/me');
    expect(me.headers.get('server-timing')).toMatch(entry('auth'));
    expect(me.headers.get('server-timing')).not.toMatch(/db;/);
    const refused = await raw('/api/me');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('server-timing')).toMatch(entry('auth'));
    expect((await raw('/health')).headers.get('server-timing')).toBeNull();
  });
});

describe('TASKS_PER_USER_MAX: a create beyond the quota is a 409', () => {
  it('the fourth task of a quota of 3 → 409 naming the limit; nothing stored; other writes still work', async () => {
    const worker = await startWorker(stackBindings(stack, { TASKS_PER_USER_MAX: '3' }));
    try {
      const me = await signUpAndGetToken(stack);
      const call = api(worker, me.token);
      const ids = [];
      for (let i = 1; i <= 3; i += 1) {
        const res = await call('POST', '/api/tasks', { title: `task ${i}` });
        expect(res.status).toBe(201);
        ids.push(res.body.id);
      }
      const { result: full, calls } = await sqlDelta(stack, () => call('POST', '/api/tasks', { title: 'one too many' }));
      expectProblem(full, 409);
      expect(full.body.detail).toMatch(/\b3\b/);
      expect(calls).toBe(1);
      expect(await db.count(me.userId)).toBe(3);
      // Another user is not affected by this user's quota.
      expect((await api(worker, user.token)('POST', '/api/tasks', { title: 'mine' })).status).toBe(201);
      // Deleting makes room again.
      expect((await call('DELETE', `/api/tasks/${ids[0]}`)).status).toBe(204);
      expect((await call('POST', '/api/tasks', { title: 'fits again' })).status).toBe(201);
    } finally {
      await worker.close();
    }
  });

  it.each(['0', '1000001', 'ten', '-5', '2.5'])('TASKS_PER_USER_MAX=%s fails closed: 500 misconfigured', async (value) => {
    const worker = await startWorker(stackBindings(stack, { TASKS_PER_USER_MAX: value }));
    try {
      const res = await api(worker, user.token)('GET', '/api/tasks');
      expectProblem(res, 500);
      expect(res.body.detail).toBe('The server is misconfigured.');
      expect((await waitForRequestLog(worker, 1)).at(-1).reason).toMatch(/TASKS_PER_USER_MAX/);
    } finally {
      await worker.close();
    }
  });

  // PGlite runs one statement at a time and can never show a race; the claim is made
  // on the PostgreSQL server only.
  it.runIf(backendName() === 'postgres')(
    '50 concurrent creates at the boundary never leave more rows than the quota (READ COMMITTED)',
    async () => {
      const worker = await startWorker(stackBindings(stack, { TASKS_PER_USER_MAX: '10' }));
      try {
        const me = await signUpAndGetToken(stack);
        const call = api(worker, me.token);
        for (let i = 0; i < 7; i += 1) expect((await call('POST', '/api/tasks', { title: `seed ${i}` })).status).toBe(201);
        const replies = await Promise.all(
          Array.from({ length: 50 }, (_, i) => call('POST', '/api/tasks', { title: `racer ${i}` })),
        );
        const statuses = replies.map((r) => r.status);
        expect(statuses.filter((s) => s === 201)).toHaveLength(3);
        expect(statuses.filter((s) => s === 409)).toHaveLength(47);
        expect(await db.count(me.userId)).toBe(10);
      } finally {
        await worker.close();
      }
    },
    60_000,
  );
});

describe('WRITE_LIMITER: per-user write limit → 429', () => {
  it('over the limit a write is 429 with Retry-After, before its body is read or the database called; reads are not limited', async () => {
    const worker = await startWorker(stackBindings(stack, { WRITE_LIMIT_PERIOD_SECONDS: '60' }), {
      ratelimits: { WRITE_LIMITER: { simple: { limit: 3, period: 60 } } },
    });
    try {
      const me = await signUpAndGetToken(stack);
      const call = api(worker, me.token);
      for (let i = 0; i < 3; i += 1) expect((await call('POST', '/api/tasks', { title: `w${i}` })).status).toBe(201);
      const { result: limited, calls } = await sqlDelta(stack, () => call('POST', '/api/tasks', { title: 'w3' }));
      expectProblem(limited, 429);
      expect(limited.headers.get('retry-after')).toBe('60');
      expect(calls).toBe(0);
      // The body is never read: a malformed one still gets the 429, not a 400.
      const malformed = await worker.fetch('/api/tasks', {
        method: 'POST',
        headers: { authorization: `Bearer ${me.token}`, 'content-type': 'application/json' },
        body: '{not json',
      });
      expect(malformed.status).toBe(429);
      for (const [method, path] of [['PATCH', '/api/tasks/1/complete'], ['DELETE', '/api/tasks/1'], ['PUT', '/api/tasks/1']]) {
        expect((await call(method, path, method === 'PUT' ? { title: 'x', description: null, completed: false } : undefined)).status).toBe(429);
      }
      // Reads never are.
      for (let i = 0; i < 5; i += 1) expect((await call('GET', '/api/tasks')).status).toBe(200);
      // The limit is per user.
      const other = await signUpAndGetToken(stack);
      expect((await api(worker, other.token)('POST', '/api/tasks', { title: 'other' })).status).toBe(201);
      // A refused token is still a 401, not a 429: the limit applies after authentication.
      expect((await worker.fetch('/api/tasks', { method: 'POST' })).status).toBe(401);
    } finally {
      await worker.close();
    }
  });

  it('without the binding, writes are unlimited and the log says so once per isolate', async () => {
    const worker = await startWorker(stackBindings(stack));
    try {
      const call = api(worker, user.token);
      for (let i = 0; i < 4; i += 1) expect((await call('POST', '/api/tasks', { title: `free ${i}` })).status).toBe(201);
      await waitForRequestLog(worker, 4);
      expect(worker.logs.filter((l) => l.includes('WRITE_LIMITER is not bound'))).toHaveLength(1);
    } finally {
      await worker.close();
    }
  });
});

describe('an isolate announces itself once', () => {
  it('the first request logs one {"event":"isolate_start"} line; later ones do not', async () => {
    const worker = await startWorker(stackBindings(stack));
    try {
      for (let i = 0; i < 3; i += 1) expect((await worker.fetch('/health')).status).toBe(200);
      await waitForRequestLog(worker, 3);
      const starts = worker.logs.filter((l) => l.includes('"event":"isolate_start"'));
      expect(starts).toHaveLength(1);
      expect(JSON.parse(starts[0])).toEqual({ event: 'isolate_start', isolate: expect.stringMatching(/^[0-9a-f]{8}$/) });
    } finally {
      await worker.close();
    }
  });
});

describe('a forged list cursor is a 422 naming `cursor`', () => {
  it('an enormous UTC offset (once an arithmetic overflow) and other non-canonical values', async () => {
    const worker = await startWorker(stackBindings(stack));
    try {
      const call = api(worker, user.token);
      for (const value of ['2026-01-01T00:00:00+3000000000000000:Z', '999999-1-1T23:59:60Z', '2026-01-01T00:00:00+5:Z']) {
        const cursor = Buffer.from(JSON.stringify({ s: 'created_at', o: 'desc', v: value, i: 1 })).toString('base64url');
        const { result: res, calls } = await sqlDelta(stack, () => call('GET', `/api/tasks?cursor=${cursor}`));
        expectProblem(res, 422);
        expect(res.body.errors.map((e) => e.field)).toEqual(['cursor']);
        expect(calls).toBe(0);
      }
    } finally {
      await worker.close();
    }
  });
});
