// Conditional requests and safe retries: versions and ETags, If-None-Match (304),
// If-Match (412 with the current ETag, nothing written), and Idempotency-Key on
// create (the original 201 replayed byte for byte). Both path forms; the races run on
// the PostgreSQL server, since PGlite runs one statement at a time.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  backendName,
  expectProblem,
  signUpAndGetToken,
  sqlDelta,
  stackBindings,
  startLocalStack,
  startWorker,
  taskDb,
} from './harness.mjs';

let stack;
let worker;
let db;
let A;
let B;
let asA;
let asB;

beforeAll(async () => {
  stack = await startLocalStack();
  worker = await startWorker(stackBindings(stack));
  db = taskDb(stack);
  [A, B] = await Promise.all([signUpAndGetToken(stack), signUpAndGetToken(stack)]);
  asA = api(worker, A.token);
  asB = api(worker, B.token);
});

afterAll(async () => {
  await worker?.close();
  await stack?.close();
});

const FORMS = [
  { name: '/api/tasks', base: () => '/api/tasks' },
  { name: '/api/{user_id}/tasks', base: () => `/api/${encodeURIComponent(A.userId)}/tasks` },
];

/** The raw reply: status, the headers a client relies on, and the body's exact bytes. */
async function raw(token, method, path, { body, headers = {} } = {}) {
  const res = await worker.fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    etag: res.headers.get('etag'),
    location: res.headers.get('location'),
    cacheControl: res.headers.get('cache-control'),
    contentType: res.headers.get('content-type'),
    text,
    body: text ? JSON.parse(text) : null,
  };
}

async function create(title, extra = {}) {
  const res = await asA('POST', '/api/tasks', { title, ...extra });
  expect(res.status).toBe(201);
  return res.body;
}

describe.each(FORMS)('versions and ETags via $name', ({ base }) => {
  it('a task starts at version 1 and every change adds one; the ETag is the quoted version', async () => {
    const created = await raw(A.token, 'POST', base(), { body: { title: 'versioned' } });
    expect(created.status).toBe(201);
    expect(created.body.version).toBe(1);
    expect(created.etag).toBe('"1"');
    const id = created.body.id;
    const steps = [
      ['PATCH', `${base()}/${id}`, { title: 'renamed' }],
      ['PUT', `${base()}/${id}`, { title: 'replaced', description: null, completed: false }],
      ['PATCH', `${base()}/${id}/complete`, undefined],
      ['PATCH', `${base()}/${id}/complete`, { completed: false }],
    ];
    for (const [i, [method, path, body]] of steps.entries()) {
      const res = await raw(A.token, method, path, { body });
      expect(res.status, `${method} ${path}`).toBe(200);
      expect(res.body.version).toBe(i + 2);
      expect(res.etag).toBe(`"${i + 2}"`);
    }
    const list = await asA('GET', `${base()}?limit=100`);
    expect(list.body.find((t) => t.id === id).version).toBe(5);
    expect((await db.query('SELECT version FROM tasks WHERE id = $1::bigint', [String(id)]))[0].version).toBe(5);
  });

  it('GET carries the ETag and Cache-Control: private, no-cache; a matching If-None-Match is a 304 without a body', async () => {
    const task = await create('cached');
    const path = `${base()}/${task.id}`;
    const first = await raw(A.token, 'GET', path);
    expect(first.status).toBe(200);
    expect(first.etag).toBe('"1"');
    expect(first.cacheControl).toBe('private, no-cache');
    for (const condition of ['"1"', 'W/"1"', '"9", "1"', '*']) {
      const { result: again, calls } = await sqlDelta(stack, () => raw(A.token, 'GET', path, { headers: { 'if-none-match': condition } }));
      expect(again.status, condition).toBe(304);
      expect(again.text).toBe('');
      expect(again.etag).toBe('"1"');
      expect(again.cacheControl).toBe('private, no-cache');
      expect(calls).toBe(1);
    }
    await asA('PATCH', path, { title: 'changed' });
    const stale = await raw(A.token, 'GET', path, { headers: { 'if-none-match': '"1"' } });
    expect(stale.status).toBe(200);
    expect(stale.etag).toBe('"2"');
    expect(stale.body.title).toBe('changed');
  });

  it('If-Match with the current version writes; with a stale or weak one → 412 with the current ETag, nothing written', async () => {
    const task = await create('guarded');
    const path = `${base()}/${task.id}`;
    const ok = await raw(A.token, 'PATCH', path, { body: { title: 'first edit' }, headers: { 'if-match': '"1"' } });
    expect(ok.status).toBe(200);
    expect(ok.etag).toBe('"2"');
    const before = await db.row(task.id);
    const cases = [
      ['PATCH', path, { title: 'stale edit' }],
      ['PUT', path, { title: 'stale put', description: null, completed: true }],
      ['PATCH', `${path}/complete`, undefined],
      ['PATCH', `${path}/complete`, { completed: true }],
      ['DELETE', path, undefined],
    ];
    for (const condition of ['"1"', 'W/"2"', '"abc"', '"1", "3"']) {
      for (const [method, p, body] of cases) {
        const res = await raw(A.token, method, p, { body, headers: { 'if-match': condition } });
        expect(res.status, `${method} ${p} If-Match ${condition}`).toBe(412);
        expect(res.contentType).toBe('application/problem+json');
        expect(res.body.type).toBe('urn:task-api:problem:precondition-failed');
        expect(res.etag).toBe('"2"');
      }
    }
    expect(await db.row(task.id)).toEqual(before);
    // `*` matches any existing task; a list matches if it names the current version.
    for (const [condition, next] of [['*', 3], ['"3"', 4], ['"7", "4"', 5]]) {
      const res = await raw(A.token, 'PATCH', `${path}/complete`, { headers: { 'if-match': condition } });
      expect(res.status, condition).toBe(200);
      expect(res.etag).toBe(`"${next}"`);
    }
    const gone = await raw(A.token, 'DELETE', path, { headers: { 'if-match': '"5"' } });
    expect(gone.status).toBe(204);
    expect(await db.row(task.id)).toBeNull();
  });

  it('a malformed If-Match or If-None-Match → 400 naming the header, without a database call', async () => {
    const task = await create('malformed');
    const path = `${base()}/${task.id}`;
    for (const value of ['1', '"1', 'W/1', '"a b"', '*, "1"']) {
      const { result: put, calls } = await sqlDelta(stack, () =>
        raw(A.token, 'PATCH', path, { body: { title: 'x' }, headers: { 'if-match': value } }),
      );
      expect(put.status, value).toBe(400);
      expect(put.body.detail).toMatch(/If-Match/);
      expect(calls).toBe(0);
      const get = await raw(A.token, 'GET', path, { headers: { 'if-none-match': value } });
      expect(get.status, value).toBe(400);
      expect(get.body.detail).toMatch(/If-None-Match/);
    }
  });

  it("a missing task, or another user's, is still a 404 whatever the condition", async () => {
    const task = await create('mine');
    for (const [who, path] of [
      [A.token, `${base()}/987654321`],
      [B.token, `/api/tasks/${task.id}`],
    ]) {
      for (const condition of ['*', '"1"', '"2"']) {
        expect((await raw(who, 'PATCH', path, { body: { title: 'x' }, headers: { 'if-match': condition } })).status).toBe(404);
        expect((await raw(who, 'DELETE', path, { headers: { 'if-match': condition } })).status).toBe(404);
        expect((await raw(who, 'GET', path, { headers: { 'if-none-match': condition } })).status).toBe(404);
      }
    }
    expect((await db.query('SELECT version FROM tasks WHERE id = $1::bigint', [String(task.id)]))[0].version).toBe(1);
  });
});

describe.each(FORMS)('Idempotency-Key on POST via $name', ({ base }) => {
  const key = () => `key-${Math.random().toString(36).slice(2)}`;

  it('a retry with the same key and body gets the original 201 byte for byte, and nothing is created', async () => {
    const k = key();
    const first = await raw(A.token, 'POST', base(), { body: { title: 'once', description: 'd' }, headers: { 'idempotency-key': k } });
    expect(first.status).toBe(201);
    const count = await db.count(A.userId);
    for (let i = 0; i < 3; i += 1) {
      const again = await raw(A.token, 'POST', base(), { body: { title: 'once', description: 'd' }, headers: { 'idempotency-key': k } });
      expect(again).toEqual(first);
    }
    expect(await db.count(A.userId)).toBe(count);
  });

  it('the original is replayed even after the task was edited, and after it was deleted', async () => {
    const k = key();
    const first = await raw(A.token, 'POST', base(), { body: { title: 'will change' }, headers: { 'idempotency-key': k } });
    await asA('PATCH', `/api/tasks/${first.body.id}`, { title: 'changed since' });
    expect(await raw(A.token, 'POST', base(), { body: { title: 'will change' }, headers: { 'idempotency-key': k } })).toEqual(first);
    await asA('DELETE', `/api/tasks/${first.body.id}`);
    expect(await raw(A.token, 'POST', base(), { body: { title: 'will change' }, headers: { 'idempotency-key': k } })).toEqual(first);
    expect(await db.row(first.body.id)).toBeNull();
  });

  it('the same key with another body → 422 naming Idempotency-Key; an invalid key → 422', async () => {
    const k = key();
    await raw(A.token, 'POST', base(), { body: { title: 'original' }, headers: { 'idempotency-key': k } });
    const count = await db.count(A.userId);
    for (const body of [{ title: 'different' }, { title: 'original', completed: true }, { title: 'original', description: '' }]) {
      const res = await raw(A.token, 'POST', base(), { body, headers: { 'idempotency-key': k } });
      expect(res.status).toBe(422);
      expect(res.body.errors.map((e) => e.field)).toEqual(['Idempotency-Key']);
    }
    // The same validated fields are the same request: the title is trimmed first.
    expect((await raw(A.token, 'POST', base(), { body: { title: '  original ' }, headers: { 'idempotency-key': k } })).status).toBe(201);
    for (const bad of ['', 'has space', 'x'.repeat(256), 'naïve']) {
      const res = await worker.fetch(base(), {
        method: 'POST',
        headers: { authorization: `Bearer ${A.token}`, 'content-type': 'application/json', 'idempotency-key': bad },
        body: JSON.stringify({ title: 'x' }),
      });
      if (bad === '') {
        // An empty header value is not sent by every client; when it arrives it is invalid.
        expect([201, 422]).toContain(res.status);
        continue;
      }
      expect(res.status, bad).toBe(422);
      expect((await res.json()).errors.map((e) => e.field)).toEqual(['Idempotency-Key']);
    }
    expect(await db.count(A.userId)).toBeLessThanOrEqual(count + 1);
  });

  it("keys are per user: B reusing A's key gets a task of its own", async () => {
    const k = key();
    const a = await raw(A.token, 'POST', base(), { body: { title: 'shared key' }, headers: { 'idempotency-key': k } });
    const b = await raw(B.token, 'POST', '/api/tasks', { body: { title: 'shared key' }, headers: { 'idempotency-key': k } });
    expect(b.status).toBe(201);
    expect(b.body.id).not.toBe(a.body.id);
    expect(b.body.user_id).toBe(B.userId);
  });

  it('keys older than 24 h are not replayed, and are purged by the user\'s next create', async () => {
    const k = key();
    const first = await raw(A.token, 'POST', base(), { body: { title: 'aged' }, headers: { 'idempotency-key': k } });
    await db.query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE user_id = $1 AND key = $2", [A.userId, k]);
    const later = await raw(A.token, 'POST', base(), { body: { title: 'aged' }, headers: { 'idempotency-key': k } });
    expect(later.status).toBe(201);
    expect(later.body.id).not.toBe(first.body.id);
    const [row] = await db.query('SELECT task_id::text AS task_id, created_at > now() - interval \'1 hour\' AS fresh FROM idempotency_keys WHERE user_id = $1 AND key = $2', [A.userId, k]);
    expect(row).toEqual({ task_id: String(later.body.id), fresh: true });
    const other = key();
    await raw(A.token, 'POST', base(), { body: { title: 'to expire' }, headers: { 'idempotency-key': other } });
    await db.query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE user_id = $1 AND key = $2", [A.userId, other]);
    await asA('POST', base(), { title: 'any create purges' });
    expect(await db.query('SELECT key FROM idempotency_keys WHERE user_id = $1 AND key = $2', [A.userId, other])).toEqual([]);
  });
});

describe('quota and replays', () => {
  it('a replay is never refused by the quota, while a new create is', async () => {
    const w = await startWorker(stackBindings(stack, { TASKS_PER_USER_MAX: '2' }));
    try {
      const C = await signUpAndGetToken(stack);
      const send = (title, k) =>
        w.fetch('/api/tasks', {
          method: 'POST',
          headers: { authorization: `Bearer ${C.token}`, 'content-type': 'application/json', 'idempotency-key': k },
          body: JSON.stringify({ title }),
        });
      const first = await send('one', 'k1');
      const firstText = await first.text();
      expect(first.status).toBe(201);
      expect((await send('two', 'k2')).status).toBe(201);
      expect((await send('three', 'k3')).status).toBe(409);
      const replay = await send('one', 'k1');
      expect(replay.status).toBe(201);
      expect(await replay.text()).toBe(firstText);
    } finally {
      await w.close();
    }
  });
});

// PGlite runs one statement at a time and can never show a race.
describe.runIf(backendName() === 'postgres')('races on the PostgreSQL server', () => {
  it('20 concurrent PATCHes with the same If-Match → 1 × 200, 19 × 412 carrying the winner\'s ETag; the row changed once', async () => {
    const task = await create('contended');
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        raw(A.token, 'PATCH', `/api/tasks/${task.id}`, { body: { title: `writer ${i}` }, headers: { 'if-match': '"1"' } }),
      ),
    );
    const winners = replies.filter((r) => r.status === 200);
    const losers = replies.filter((r) => r.status === 412);
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(19);
    expect(winners[0].etag).toBe('"2"');
    for (const loser of losers) expect(loser.etag).toBe('"2"');
    const row = await db.row(task.id);
    expect(row.title).toBe(winners[0].body.title);
    expect((await db.query('SELECT version FROM tasks WHERE id = $1::bigint', [String(task.id)]))[0].version).toBe(2);
  }, 60_000);

  it('20 concurrent POSTs with one key → one row, 20 identical 201s', async () => {
    const k = `race-${Math.random().toString(36).slice(2)}`;
    const before = await db.count(A.userId);
    const replies = await Promise.all(
      Array.from({ length: 20 }, () => raw(A.token, 'POST', '/api/tasks', { body: { title: 'exactly once' }, headers: { 'idempotency-key': k } })),
    );
    for (const r of replies) expect(r).toEqual(replies[0]);
    expect(replies[0].status).toBe(201);
    expect(await db.count(A.userId)).toBe(before + 1);
  }, 60_000);
});

describe('expected problems', () => {
  it('412 and the replayed 201 keep problem+json and headers right', async () => {
    const task = await create('headers');
    const res = await raw(A.token, 'DELETE', `/api/tasks/${task.id}`, { headers: { 'if-match': '"4"' } });
    expectProblem({ status: res.status, headers: new Headers({ 'content-type': res.contentType }), body: res.body }, 412);
  });
});
