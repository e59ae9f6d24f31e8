// The database misbehaving (docs/api.md "Errors": 503 with Retry-After, never a hang): nothing listening, too slow, 5xx, garbage and
// wrong shapes, errors without the protocol's body. Every such answer becomes a prompt
// 503 with Retry-After and a problem body that shows no internals — never a 200, a
// 500 or a hang — reads are retried at most once, writes never, and a failed write
// leaves nothing half-done. SQL errors keep their meaning (a check violation is a 422).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  backendName,
  closedPortUrl,
  expectUnavailable,
  signUpAndGetToken,
  stackBindings,
  startLocalStack,
  startSqlDouble,
  startWorker,
  taskDb,
  TEST_DB_PASSWORD,
} from './harness.mjs';

let stack;
let db;
let user;
let double; // stands between the worker and the stack's SQL endpoint
let viaDouble; // worker pointed at the double
let viaClosed; // worker pointed at a port nothing listens on
let call;
let callClosed;
let seed; // a task that exists

beforeAll(async () => {
  stack = await startLocalStack();
  db = taskDb(stack);
  double = await startSqlDouble({ forwardTo: stack.sqlUrl });
  const closed = await closedPortUrl();
  [viaDouble, viaClosed, user] = await Promise.all([
    startWorker(stackBindings(stack, { NEON_SQL_ENDPOINT: double.url })),
    startWorker(stackBindings(stack, { NEON_SQL_ENDPOINT: closed })),
    signUpAndGetToken(stack),
  ]);
  call = api(viaDouble, user.token);
  callClosed = api(viaClosed, user.token);
  const res = await call('POST', '/api/tasks', { title: 'seed', description: 'original' });
  expect(res.status).toBe(201);
  seed = res.body;
});

afterAll(async () => {
  await viaDouble?.close();
  await viaClosed?.close();
  await double?.close();
  await stack?.close();
});

const FORWARD = () => 'forward';

/** Every operation that reaches the database, with whether it only reads. */
function operations(id) {
  return [
    ['list', 'GET', '/api/tasks', undefined, true],
    ['list (user form)', 'GET', `/api/${encodeURIComponent(user.userId)}/tasks?status=pending&q=x`, undefined, true],
    ['get', 'GET', `/api/tasks/${id}`, undefined, true],
    ['create', 'POST', '/api/tasks', { title: 'fault create' }, false],
    ['replace', 'PUT', `/api/tasks/${id}`, { title: 'fault put', description: null, completed: true }, false],
    ['patch', 'PATCH', `/api/tasks/${id}`, { title: 'fault patch', description: null }, false],
    ['toggle', 'PATCH', `/api/tasks/${id}/complete`, undefined, false],
    ['set completed', 'PATCH', `/api/tasks/${id}/complete`, { completed: true }, false],
    ['delete', 'DELETE', `/api/tasks/${id}`, undefined, false],
  ];
}

/** Fails instead of waiting forever: the worker must answer within `ms`. */
async function within(ms, promise, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** A 503 that shows nothing of the database. */
function expectFailedClosed(res, what) {
  expectUnavailable(res, what);
  expectNoInternals(res, what);
}

function expectNoInternals(res, what) {
  for (const secret of [TEST_DB_PASSWORD, 'postgresql://', '127.0.0.1', 'SELECT', 'UPDATE', 'INSERT', 'tasks_', 'SQLSTATE', 'double', 'boom', 'relation']) {
    expect(res.text, `${what}: leaks ${secret}`).not.toContain(secret);
  }
}

/** The seed task and the table as a whole, compared before and after a fault. */
async function snapshot() {
  return { rows: await db.rows(user.userId), total: await db.count() };
}

/** A batch reply (the worker sends the row-level-security prefix, then its statement)
 *  whose data result is `result`. */
const inBatch = (result) => ({ results: [{ command: 'SELECT', rowCount: 1, fields: [], rows: [] }, result] });

const FAULTS = [
  ['HTTP 500 with a JSON body', { status: 500, body: { message: 'boom', code: 'XX000' } }],
  ['HTTP 502 with an HTML page', { status: 502, body: '<html><body>Bad Gateway</body></html>', headers: { 'content-type': 'text/html' } }],
  ['HTTP 503 with no body', { status: 503, body: '' }],
  ['HTTP 404 from a proxy', { status: 404, body: 'Not Found', headers: { 'content-type': 'text/plain' } }],
  ['HTTP 200 with garbage', { status: 200, body: 'garbage, not JSON at all' }],
  ['HTTP 200 with an HTML page', { status: 200, body: '<!doctype html><html><body>Welcome to nginx!</body></html>', headers: { 'content-type': 'text/html' } }],
  ['HTTP 200 with JSON of the wrong shape', { status: 200, body: { rows: 'nope', boom: true } }],
  ['HTTP 200 with a JSON array', { status: 200, body: [1, 2, 3] }],
  ['HTTP 200 with rows wider than the fields', { status: 200, body: inBatch({ fields: [], rows: [[1, 2]], command: 'SELECT', rowCount: 1 }) }],
  ['HTTP 200 with a batch of the wrong length', { status: 200, body: { results: [{ fields: [], rows: [], command: 'SELECT', rowCount: 0 }] } }],
  [
    'HTTP 200 with cells that do not decode',
    {
      status: 200,
      body: inBatch({
        command: 'SELECT',
        rowCount: 1,
        fields: [
          ['id', 20], ['user_id', 25], ['title', 25], ['description', 25], ['completed', 16], ['created_at', 1184], ['updated_at', 1184],
        ].map(([name, dataTypeID]) => ({ name, dataTypeID })),
        rows: [['not-a-number', 'u', 't', null, 'maybe', 'yesterday', 'today']],
      }),
    },
  ],
  ['HTTP 400 with a body that is not JSON', { status: 400, body: 'Bad Request' }],
  ['HTTP 400 with JSON but no SQLSTATE', { status: 400, body: { message: 'boom' } }],
  ['a connection reset without an answer', 'reset'],
];

describe(`faults of the SQL endpoint (${backendName()})`, () => {
  it.each(FAULTS)('%s → 503 with Retry-After for every operation, nothing written', async (name, reply) => {
    double.respond = () => reply;
    const before = await snapshot();
    for (const [label, method, path, body] of operations(seed.id)) {
      const res = await within(10_000, call(method, path, body), `${label} under ${name}`);
      expectFailedClosed(res, `${label} under ${name}`);
    }
    double.respond = FORWARD;
    expect(await snapshot()).toEqual(before);
  });

  it('nothing listening on the endpoint → 503 with Retry-After, promptly', async () => {
    for (const [label, method, path, body] of operations(seed.id)) {
      const started = Date.now();
      const res = await within(10_000, callClosed(method, path, body), label);
      expectFailedClosed(res, `${label} with nothing listening`);
      expect(Date.now() - started, label).toBeLessThan(4000);
    }
    expect((await db.row(seed.id)).title).toBe('seed');
  });

  it('a successful insert that returns no row is a 503, not a 201', async () => {
    double.respond = () => ({ status: 200, body: inBatch({ command: 'INSERT', rowCount: 0, fields: [], rows: [] }) });
    const res = await call('POST', '/api/tasks', { title: 'vanishing' });
    double.respond = FORWARD;
    expectFailedClosed(res, 'empty INSERT result');
  });

  it('reads are retried once after a transient failure, writes never', async () => {
    const cases = [
      ['GET', `/api/tasks/${seed.id}`, undefined, 2],
      ['GET', '/api/tasks', undefined, 2],
      ['POST', '/api/tasks', { title: 'not twice' }, 1],
      ['PATCH', `/api/tasks/${seed.id}/complete`, undefined, 1],
      ['DELETE', `/api/tasks/${seed.id}`, undefined, 1],
    ];
    for (const reply of [{ status: 500, body: { message: 'boom' } }, 'reset', { status: 400, body: { code: '40001', message: 'could not serialize access' } }]) {
      for (const [method, path, body, attempts] of cases) {
        double.respond = () => reply;
        const before = double.hits;
        const res = await call(method, path, body);
        expectFailedClosed(res, `${method} ${path}`);
        expect(double.hits - before, `${method} ${path} under ${JSON.stringify(reply)}`).toBe(attempts);
      }
    }
    double.respond = FORWARD;
    expect(await db.row(seed.id)).toMatchObject({ title: 'seed', completed: false });
  });

  it('a read that fails once and then succeeds answers 200', async () => {
    let n = 0;
    double.respond = () => ((n += 1) === 1 ? { status: 502, body: 'bad gateway' } : 'forward');
    const res = await call('GET', `/api/tasks/${seed.id}`);
    double.respond = FORWARD;
    expect(res.status).toBe(200);
    expect(res.body).toEqual(seed);
    expect(n).toBe(2);
  });

  it('slower than the 5 s deadline → 503 within the deadline, for reads and writes alike', async () => {
    const before = await snapshot();
    const beforeHits = double.hits;
    // SELECTs and INSERTs run, but their answers come after 8 s; UPDATEs never get one.
    double.respond = (request) => {
      const sql = request.json?.queries?.at(-1)?.query ?? '';
      if (/UPDATE tasks/.test(sql)) return 'hang';
      return { forward: true, delayMs: 8000 };
    };
    const timed = async (method, path, body) => {
      const started = Date.now();
      const res = await within(12_000, call(method, path, body), `${method} ${path}`);
      return { what: `${method} ${path}`, res, elapsed: Date.now() - started };
    };
    const results = await Promise.all([
      timed('GET', `/api/tasks/${seed.id}`),
      timed('GET', '/api/tasks'),
      timed('POST', '/api/tasks', { title: 'slow create', description: 'all or nothing' }),
      timed('PUT', `/api/tasks/${seed.id}`, { title: 'slow put', description: 'changed', completed: true }),
    ]);
    double.respond = FORWARD;
    const kindOf = (sql) => (/INSERT INTO tasks/.test(sql) ? 'INSERT' : /UPDATE tasks/.test(sql) ? 'UPDATE' : sql.split(' ')[0]);
    const sent = double.requests.slice(beforeHits).map((r) => kindOf(r.json.queries.at(-1).query));
    for (const { what, res, elapsed } of results) {
      expectFailedClosed(res, `${what} against a slow endpoint`);
      expect(elapsed, `${what} took ${elapsed} ms`).toBeGreaterThanOrEqual(4500);
      // One attempt of at most 5 s: a timeout is not retried (README, "Database calls").
      expect(elapsed, `${what} took ${elapsed} ms`).toBeLessThan(7500);
    }
    expect(sent.sort(), 'statements sent, one per call').toEqual(['INSERT', 'SELECT', 'SELECT', 'UPDATE']);

    // The PUT never reached the database; the create did and committed — whole.
    expect(await db.row(seed.id)).toEqual(before.rows.find((r) => r.id === String(seed.id)));
    const created = (await db.rows(user.userId)).filter((r) => r.title === 'slow create');
    expect(created.length).toBeLessThanOrEqual(1);
    for (const row of created) {
      expect(row).toMatchObject({ user_id: user.userId, description: 'all or nothing', completed: false });
    }
  });
});

describe('SQL errors keep their meaning', () => {
  it.each([
    ['23514', 'tasks_title_length', 'title'],
    ['23514', 'tasks_description_length', 'description'],
    ['22001', 'tasks_title_length', 'title'],
  ])('SQLSTATE %s on %s → 422 naming %s', async (code, constraint, field) => {
    double.respond = () => ({
      status: 400,
      body: { message: `new row for relation "tasks" violates check constraint "${constraint}"`, code, constraint, severity: 'ERROR' },
    });
    const res = await call('POST', '/api/tasks', { title: 'checked' });
    double.respond = FORWARD;
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.body.errors.map((e) => e.field)).toEqual([field]);
    expectNoInternals(res, constraint);
  });

  it('any other statement error is a 500 that shows nothing of it', async () => {
    for (const code of ['42P01', '42703', '23505', 'XX000']) {
      double.respond = () => ({
        status: 400,
        body: { message: 'relation "tasks" does not exist at SELECT secret_column', code, severity: 'ERROR', table: 'tasks' },
      });
      for (const [label, method, path, body] of operations(seed.id)) {
        const res = await call(method, path, body);
        expect(res.status, `${label} ${code}`).toBe(500);
        expect(res.headers.get('content-type')).toBe('application/problem+json');
        expect(res.body).toMatchObject({ status: 500 });
        expect(res.text).not.toContain('secret_column');
        expect(res.text).not.toContain(code);
        expectNoInternals(res, `${label} ${code}`);
      }
    }
    double.respond = FORWARD;
  });

  it('a real check constraint violated in the database → 422, and the row is untouched', async () => {
    // Through validation the table's own checks cannot be reached (the API enforces the
    // same lengths, counted the same way), so this adds stricter ones to this test's
    // database, named the way the worker maps them to fields.
    await db.query("ALTER TABLE tasks ADD CONSTRAINT tasks_title_not_forbidden CHECK (title NOT LIKE '%forbidden%')");
    await db.query("ALTER TABLE tasks ADD CONSTRAINT tasks_description_not_classified CHECK (description NOT LIKE '%classified%')");
    try {
      const before = await snapshot();
      const cases = [
        ['POST', '/api/tasks', { title: 'a forbidden title' }, 'title'],
        ['POST', '/api/tasks', { title: 'fine', description: 'classified' }, 'description'],
        ['PUT', `/api/tasks/${seed.id}`, { title: 'forbidden', description: 'would change', completed: true }, 'title'],
        ['PATCH', `/api/tasks/${seed.id}`, { title: 'still fine', description: 'classified', completed: true }, 'description'],
        ['PATCH', `/api/tasks/${seed.id}`, { title: 'forbidden' }, 'title'],
      ];
      for (const [method, path, body, field] of cases) {
        const res = await call(method, path, body);
        expect(res.status, `${method} ${JSON.stringify(body)}`).toBe(422);
        expect(res.body.errors.map((e) => e.field)).toEqual([field]);
        expectNoInternals(res, `${method} check violation`);
      }
      // Single statements: the PUT and PATCH changed no column at all.
      expect(await snapshot()).toEqual(before);
    } finally {
      await db.query('ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_title_not_forbidden');
      await db.query('ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_description_not_classified');
    }
  });
});

describe('the request log under faults', () => {
  it('names a reason for each 503 and never the connection string', async () => {
    double.respond = () => ({ status: 500, body: { message: 'boom' } });
    await call('GET', `/api/tasks/${seed.id}`);
    double.respond = FORWARD;
    await expect.poll(() => viaDouble.requestLog().some((e) => e.status === 503)).toBe(true);
    for (const entry of [...viaDouble.requestLog(), ...viaClosed.requestLog()].filter((e) => e.status === 503)) {
      expect(typeof entry.reason).toBe('string');
      expect(entry.reason.length).toBeGreaterThan(0);
    }
    for (const logs of [viaDouble.logs, viaClosed.logs]) {
      const all = logs.join('\n');
      expect(all).not.toContain(TEST_DB_PASSWORD);
      expect(all).not.toContain(user.token);
    }
  });
});
