// User isolation (docs/isolation.md) with two real Better Auth users: B can neither see nor touch
// A's tasks through any endpoint in either path form, hostile ids get nowhere, and A's
// rows stay byte-for-byte what they were. The worker talks to the local SQL endpoint
// through a recording relay, so every statement it sends is audited at runtime too.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  backendName,
  signUpAndGetToken,
  stackBindings,
  startLocalStack,
  startSqlDouble,
  startWorker,
  taskDb,
} from './harness.mjs';

const MISSING_ID = '987654321';

let stack;
let relay;
let worker;
let db;
let A;
let B;
let asA;
let asB;
let aTasks; // A's tasks as the API returned them
let bTask;
let snapshotA; // A's rows read from the database before B acts
let snapshotB;

beforeAll(async () => {
  stack = await startLocalStack();
  relay = await startSqlDouble({ forwardTo: stack.sqlUrl });
  worker = await startWorker(stackBindings(stack, { NEON_SQL_ENDPOINT: relay.url }));
  db = taskDb(stack);
  [A, B] = await Promise.all([signUpAndGetToken(stack), signUpAndGetToken(stack)]);
  expect(A.userId).not.toBe(B.userId);
  asA = api(worker, A.token);
  asB = api(worker, B.token);
  aTasks = [];
  for (const body of [
    { title: 'A secret plan', description: 'A private notes' },
    { title: 'A finished thing', completed: true },
    { title: 'A plain task' },
  ]) {
    const res = await asA('POST', '/api/tasks', body);
    expect(res.status).toBe(201);
    aTasks.push(res.body);
  }
  const res = await asB('POST', '/api/tasks', { title: 'B own task' });
  expect(res.status).toBe(201);
  bTask = res.body;
  snapshotA = await db.rows(A.userId);
  snapshotB = await db.rows(B.userId);
  expect(snapshotA).toHaveLength(3);
});

afterAll(async () => {
  await worker?.close();
  await relay?.close();
  await stack?.close();
});

/** A's and B's rows are exactly as they were before (timestamps to the microsecond). */
async function expectUnchanged() {
  expect(await db.rows(A.userId)).toEqual(snapshotA);
  expect(await db.rows(B.userId)).toEqual(snapshotB);
}

/** Every operation on one task id, as [label, method, path-suffix, body]. */
function taskOps(id) {
  return [
    ['get', 'GET', `/${id}`, undefined],
    ['replace', 'PUT', `/${id}`, { title: 'pwned', description: 'by B', completed: false }],
    ['patch title', 'PATCH', `/${id}`, { title: 'pwned' }],
    ['patch description null', 'PATCH', `/${id}`, { description: null }],
    ['toggle', 'PATCH', `/${id}/complete`, undefined],
    ['set completed', 'PATCH', `/${id}/complete`, { completed: false }],
    ['delete', 'DELETE', `/${id}`, undefined],
  ];
}

const forms = () => [
  ['/api/tasks', '/api/tasks'],
  ['/api/{user_id}/tasks', `/api/${encodeURIComponent(B.userId)}/tasks`],
];

/** What the API says about a task that does not exist, for comparison. */
async function missingAnswer(method, path, body) {
  const res = await asB(method, path, body);
  return { status: res.status, type: res.headers.get('content-type'), text: res.text };
}

describe(`B acting on A's tasks (${backendName()})`, () => {
  it('gets 404, exactly like a missing task, for every endpoint in both path forms', async () => {
    for (const [, base] of forms()) {
      for (const task of aTasks) {
        const ops = taskOps(task.id);
        const missing = taskOps(MISSING_ID);
        for (let i = 0; i < ops.length; i += 1) {
          const [label, method, suffix, body] = ops[i];
          const res = await asB(method, `${base}${suffix}`, body);
          const what = `${label} ${method} ${base}${suffix}`;
          expect(res.status, what).toBe(404);
          const expected = await missingAnswer(missing[i][1], `${base}${missing[i][2]}`, missing[i][3]);
          expect({ status: res.status, type: res.headers.get('content-type'), text: res.text }, what).toEqual(expected);
          expect(res.text).not.toContain('A secret');
        }
      }
    }
    await expectUnchanged();
  });

  it("never sees A's tasks in a list, whatever the query", async () => {
    const queries = [
      '',
      '?limit=100',
      '?status=completed',
      '?status=pending',
      '?q=A%20secret',
      '?q=private',
      '?q=A',
      '?sort=title&order=asc',
      '?sort=updated_at&order=asc&limit=1',
      `?user_id=${encodeURIComponent(A.userId)}`,
    ];
    for (const [, base] of forms()) {
      for (const query of queries) {
        const res = await asB('GET', `${base}${query}`, undefined, { headers: { 'x-user-id': A.userId } });
        expect(res.status, query).toBe(200);
        for (const task of res.body) {
          expect(task.user_id).toBe(B.userId);
          expect(aTasks.map((t) => t.id)).not.toContain(task.id);
        }
      }
      const all = await asB('GET', base);
      expect(all.body).toEqual([bTask]);
    }
  });

  it("cannot page into A's rows with a cursor built from A's values", async () => {
    for (const [sort, value] of [
      ['created_at', aTasks[2].created_at],
      ['title', 'A secret plan'],
    ]) {
      for (const order of ['asc', 'desc']) {
        // The cursor is opaque but not secret (base64url JSON); a forged one may only
        // move within the caller's own rows.
        const cursor = Buffer.from(JSON.stringify({ s: sort, o: order, v: value, i: aTasks[0].id })).toString('base64url');
        const res = await asB('GET', `/api/tasks?sort=${sort}&order=${order}&cursor=${cursor}`);
        expect([200, 422]).toContain(res.status);
        if (res.status === 200) {
          for (const task of res.body) expect(task.user_id).toBe(B.userId);
        }
      }
    }
  });

  it('gets 403 for every endpoint under A\'s user id, without touching the database', async () => {
    const hitsBefore = relay.hits;
    const aPath = encodeURIComponent(A.userId);
    const encodedA = [...A.userId].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`).join('');
    for (const prefix of [`/api/${aPath}/tasks`, `/api/${encodedA}/tasks`]) {
      const cases = [
        ['GET', prefix, undefined],
        ['GET', `${prefix}?limit=100`, undefined],
        ['POST', prefix, { title: 'planted by B' }],
        ...[aTasks[0].id, bTask.id, MISSING_ID].flatMap((id) =>
          taskOps(id).map(([, method, suffix, body]) => [method, `${prefix}${suffix}`, body]),
        ),
      ];
      for (const [method, path, body] of cases) {
        const res = await asB(method, path, body);
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(res.headers.get('content-type')).toBe('application/problem+json');
        expect(res.body).toMatchObject({ status: 403, title: 'Forbidden' });
        expect(res.text).not.toContain('A secret');
      }
    }
    expect(relay.hits).toBe(hitsBefore);
    await expectUnchanged();
  });

  it('the path user must match exactly: another case is another user; percent-encoding is decoded', async () => {
    const swapped = [...A.userId].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('');
    expect(swapped).not.toBe(A.userId);
    const res = await asA('GET', `/api/${encodeURIComponent(swapped)}/tasks`);
    expect(res.status).toBe(403);
    const encoded = [...A.userId].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
    const own = await asA('GET', `/api/${encoded}/tasks?sort=title&order=asc`);
    expect(own.status).toBe(200);
    expect(own.body.map((t) => t.id).sort()).toEqual(aTasks.map((t) => t.id).sort());
  });
});

describe('bodies cannot move a task to another user or renumber it', () => {
  it('user_id or id in a body is a 422 and nothing changes', async () => {
    const a1 = aTasks[0];
    const full = { title: 'x', description: null, completed: false };
    const cases = [
      [asB, 'POST', '/api/tasks', { title: 'planted', user_id: A.userId }, ['user_id']],
      [asB, 'POST', '/api/tasks', { title: 'planted', id: a1.id }, ['id']],
      [asB, 'POST', `/api/${encodeURIComponent(B.userId)}/tasks`, { title: 'planted', user_id: A.userId, id: a1.id }, ['user_id', 'id']],
      [asA, 'PUT', `/api/tasks/${a1.id}`, { ...full, user_id: B.userId }, ['user_id']],
      [asA, 'PUT', `/api/tasks/${a1.id}`, { ...full, id: bTask.id }, ['id']],
      [asA, 'PATCH', `/api/tasks/${a1.id}`, { user_id: B.userId }, ['user_id']],
      [asA, 'PATCH', `/api/tasks/${a1.id}`, { title: 'moved', user_id: B.userId }, ['user_id']],
      [asA, 'PATCH', `/api/tasks/${a1.id}`, { id: bTask.id }, ['id']],
      [asA, 'PATCH', `/api/tasks/${a1.id}/complete`, { completed: true, user_id: B.userId }, ['user_id']],
      [asB, 'PATCH', `/api/tasks/${bTask.id}`, { user_id: A.userId }, ['user_id']],
      [asB, 'PATCH', `/api/tasks/${bTask.id}`, { created_at: '2000-01-01T00:00:00Z', updated_at: '2000-01-01T00:00:00Z' }, ['created_at', 'updated_at']],
    ];
    for (const [client, method, path, body, fields] of cases) {
      const res = await client(method, path, body);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(422);
      expect(res.body.errors.map((e) => e.field).sort()).toEqual([...fields].sort());
    }
    await expectUnchanged();
  });
});

describe('hostile task ids', () => {
  const hostile = () => {
    const a1 = String(aTasks[0].id);
    return [
      '0',
      '-1',
      `-${a1}`,
      '00',
      `0${a1}`,
      `+${a1}`,
      `${a1}.0`,
      `${a1}e0`,
      '1e3',
      '0x1',
      '9223372036854775808',
      '-9223372036854775809',
      '18446744073709551616',
      '99999999999999999999999999999999',
      'abc',
      'null',
      'NaN',
      'Infinity',
      '١',
      `${a1}%20OR%201=1`,
      `${a1} OR 1=1`,
      '1 OR 1=1',
      '1;DROP TABLE tasks',
      `${a1};DROP%20TABLE%20tasks;--`,
      "1'%20OR%20'1'='1",
      '1%27%20OR%20%271%27%3D%271',
      '1%3BDROP%20TABLE%20tasks',
      '%31',
      `${a1}%00`,
      '%00',
      '%FF',
      "$1",
      'user_id',
    ];
  };

  it('get 404 (or 422) from every endpoint in both forms, for A and for B, never another user\'s data', async () => {
    for (const [who, client, base] of [
      ['B', asB, '/api/tasks'],
      ['B', asB, `/api/${encodeURIComponent(B.userId)}/tasks`],
      ['A', asA, '/api/tasks'],
      ['A', asA, `/api/${encodeURIComponent(A.userId)}/tasks`],
    ]) {
      for (const id of hostile()) {
        if (who === 'A' && id === '%31') continue; // "1" percent-encoded: for A it may name task 1
        for (const [label, method, suffix, body] of taskOps(id)) {
          const res = await client(method, `${base}${suffix}`, body);
          const what = `${who} ${label} ${method} ${base}${suffix}`;
          expect([404, 422], what).toContain(res.status);
          expect(res.headers.get('content-type'), what).toBe('application/problem+json');
          expect(res.text, what).not.toContain('A secret');
          expect(res.text, what).not.toContain('B own task');
        }
      }
    }
    await expectUnchanged();
    expect(await db.count()).toBe(4);
  });

  it('a malformed id costs no round trip; the largest int64 is just a missing task', async () => {
    const before = relay.hits;
    for (const id of ['0', '-1', '9223372036854775808', '1 OR 1=1', '1;DROP TABLE tasks', 'abc']) {
      const res = await asB('GET', `/api/tasks/${id}`);
      expect(res.status).toBe(404);
    }
    expect(relay.hits).toBe(before);
    const max = await asB('DELETE', '/api/tasks/9223372036854775807');
    expect(max.status).toBe(404);
    expect(relay.hits).toBe(before + 1);
  });
});

describe('A is unaffected', () => {
  it("A still sees its tasks exactly as created", async () => {
    for (const task of aTasks) {
      const res = await asA('GET', `/api/tasks/${task.id}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(task);
    }
    const list = await asA('GET', '/api/tasks?sort=created_at&order=asc');
    expect(list.body).toEqual(aTasks);
    await expectUnchanged();
  });
});

describe('statement audit at runtime (what the worker sent to the SQL endpoint)', () => {
  it('every request is one batch: the row-level-security prefix, then one user-scoped statement binding the caller as $1, nothing spliced', async () => {
    const sent = relay.requests;
    expect(sent.length).toBeGreaterThan(50);
    const users = new Set([A.userId, B.userId]);
    const shapes = new Set();
    for (const request of sent) {
      expect(request.method).toBe('POST');
      expect(request.headers['neon-connection-string']).toMatch(/^postgres(ql)?:\/\//);
      expect(request.headers['neon-raw-text-output']).toBe('true');
      expect(request.headers['neon-array-mode']).toBe('true');
      // One batch transaction per request: the prefix that sets the user and the
      // restricted role for this transaction only, then the data statement, last.
      expect(Object.keys(request.json)).toEqual(['queries']);
      expect(request.headers['neon-batch-isolation-level']).toBe('ReadCommitted');
      expect(['true', 'false']).toContain(request.headers['neon-batch-read-only']);
      const [prefix, ...statements] = request.json.queries;
      const data = statements.at(-1);
      // A create takes the user's advisory lock too (its quota check must see the
      // user's previous create), and first forgets the user's expired idempotency keys.
      expect(prefix.query).toMatch(/^SELECT set_config\('app\.user_id', \$1, true\), set_config\('role', 'task_api_user', true\)(, pg_advisory_xact_lock\(20580, hashtext\(\$1\)\))?$/);
      expect(prefix.params).toEqual([data.params[0]]);
      for (const s of statements) expect(s.params[0]).toBe(data.params[0]);
      const sql = data.query.replace(/\s+/g, ' ').trim();
      const params = data.params;
      expect(request.headers['neon-batch-read-only']).toBe(/^SELECT/.test(sql) ? 'true' : 'false');
      expect(params.every((p) => p === null || typeof p === 'string')).toBe(true);
      expect(users.has(params[0]), `${sql} bound ${params[0]}`).toBe(true);
      expect(sql).toMatch(/\btasks\b/);
      // The native audit (src/db/audit.rs) judges every reference in each statement's
      // text; here, what actually went out: the caller's predicate or insert is there.
      expect(sql).toMatch(/\bFROM tasks WHERE user_id = \$1 AND |INSERT INTO tasks \(user_id, [^)]*\) SELECT \$1, /);
      expect(sql.toLowerCase()).not.toContain('or user_id');
      // Values travel as parameters, never inside the SQL text.
      for (const user of users) expect(sql).not.toContain(user);
      expect(sql).not.toMatch(/DROP|pwned|planted|secret/i);
      expect(sql).not.toMatch(/\b\d{3,}\b/);
      shapes.add(
        /INSERT INTO tasks/.test(sql) ? 'INSERT'
          : /UPDATE tasks SET completed = NOT completed/.test(sql) ? 'UPDATE toggle'
            : /UPDATE tasks/.test(sql) ? 'UPDATE'
              : /DELETE FROM tasks/.test(sql) ? 'DELETE'
                : 'SELECT',
      );
    }
    // INSERT, SELECT (get and list), UPDATE (replace/patch/set), UPDATE toggle, DELETE.
    expect([...shapes].some((s) => s.startsWith('INSERT'))).toBe(true);
    expect([...shapes].some((s) => s.startsWith('SELECT'))).toBe(true);
    expect([...shapes].some((s) => s.startsWith('UPDATE') && s.endsWith('toggle'))).toBe(true);
    expect([...shapes].some((s) => s.startsWith('UPDATE') && !s.endsWith('toggle'))).toBe(true);
    expect([...shapes].some((s) => s.startsWith('DELETE'))).toBe(true);
  });

  it("B's requests bind B's id, even when they name A's task or path", async () => {
    const from = relay.requests.length;
    for (const [, method, suffix, body] of taskOps(aTasks[0].id)) {
      await asB(method, `/api/tasks${suffix}`, body);
    }
    await asB('GET', '/api/tasks?q=secret');
    const sent = relay.requests.slice(from);
    expect(sent).toHaveLength(taskOps(0).length + 1);
    for (const request of sent) {
      for (const statement of request.json.queries) expect(statement.params[0]).toBe(B.userId);
    }
    await expectUnchanged();
  });
});
