// Task CRUD against the built worker in workerd, a real Better Auth token and the local
// SQL endpoint: every endpoint in both path forms, every input rule, what reaches the
// database, round trips per request, races, and exotic text.
// Runs on PGlite by default, on PostgreSQL with TEST_BACKEND=postgres.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  backendName,
  expectFields,
  expectProblem,
  rawHttp,
  signUpAndGetToken,
  sleep,
  sqlDelta,
  stackBindings,
  startLocalStack,
  startWorker,
  taskDb,
  TEST_DB_PASSWORD,
} from './harness.mjs';

// The README's decision: RFC 3339 UTC with exactly six fraction digits.
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const MISSING_ID = '987654321';

let stack;
let worker;
let db;
let user; // { token, userId }
let call; // api(worker, user.token)

beforeAll(async () => {
  stack = await startLocalStack();
  worker = await startWorker(stackBindings(stack));
  db = taskDb(stack);
  user = await signUpAndGetToken(stack);
  call = api(worker, user.token);
});

afterAll(async () => {
  await worker?.close();
  await stack?.close();
});

/** Both path forms of the task routes. */
const FORMS = [
  { name: '/api/tasks', base: () => '/api/tasks' },
  { name: '/api/{user_id}/tasks', base: () => `/api/${encodeURIComponent(user.userId)}/tasks` },
];

function expectTask(task, expected = {}) {
  expect(Object.keys(task).sort()).toEqual(
    ['completed', 'created_at', 'description', 'id', 'title', 'updated_at', 'user_id', 'version'].sort(),
  );
  expect(Number.isSafeInteger(task.version) && task.version >= 1).toBe(true);
  expect(Number.isSafeInteger(task.id) && task.id > 0).toBe(true);
  expect(task.user_id).toBe(user.userId);
  expect(typeof task.title).toBe('string');
  expect(task.description === null || typeof task.description === 'string').toBe(true);
  expect(typeof task.completed).toBe('boolean');
  expect(task.created_at).toMatch(TIMESTAMP);
  expect(task.updated_at).toMatch(TIMESTAMP);
  expect(Number.isNaN(Date.parse(task.created_at))).toBe(false);
  expect(task).toMatchObject(expected);
}

/** Postgres' timestamptz text ("2026-11-26 11:34:25.545+00") as epoch microseconds. */
function pgMicros(text) {
  const m = text.match(/^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00$/);
  if (!m) throw new Error(`unexpected timestamptz text ${text}`);
  return BigInt(Date.parse(`${m[1]}T${m[2]}Z`)) * 1000n + BigInt((m[3] ?? '').padEnd(6, '0'));
}

function apiMicros(text) {
  const m = text.match(/^(.*)\.(\d{6})Z$/);
  return BigInt(Date.parse(`${m[1]}Z`)) * 1000n + BigInt(m[2]);
}

/** The API's view of a task equals the database row, timestamps to the microsecond. */
async function expectStored(task) {
  const row = await db.row(task.id);
  expect(row).not.toBeNull();
  expect({
    id: row.id,
    user_id: row.user_id,
    title: row.title,
    description: row.description,
    completed: row.completed,
  }).toEqual({
    id: String(task.id),
    user_id: task.user_id,
    title: task.title,
    description: task.description,
    completed: task.completed,
  });
  expect(pgMicros(row.created_at)).toBe(apiMicros(task.created_at));
  expect(pgMicros(row.updated_at)).toBe(apiMicros(task.updated_at));
}

async function create(base, body = { title: 'a task' }) {
  const res = await call('POST', base, body);
  expect(res.status).toBe(201);
  return res.body;
}

describe.each(FORMS)(`CRUD via $name (${backendName()})`, ({ base }) => {
  it('POST creates: 201, Location, the task as stored, title trimmed', async () => {
    const before = Date.now();
    const res = await call('POST', base(), { title: '  Buy milk \t\n', description: '2 litres' });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('location')).toBe(`/api/tasks/${res.body.id}`);
    expectTask(res.body, { title: 'Buy milk', description: '2 litres', completed: false });
    expect(res.body.created_at).toBe(res.body.updated_at);
    const created = Date.parse(res.body.created_at);
    expect(created).toBeGreaterThanOrEqual(before - 60_000);
    expect(created).toBeLessThanOrEqual(Date.now() + 60_000);
    await expectStored(res.body);

    // The Location names the task in the short form, whichever form created it.
    const viaLocation = await call('GET', res.headers.get('location'));
    expect(viaLocation.status).toBe(200);
    expect(viaLocation.body).toEqual(res.body);
  });

  it('POST defaults description to null and completed to false, and accepts both', async () => {
    const bare = await create(base(), { title: 'bare' });
    expectTask(bare, { title: 'bare', description: null, completed: false });
    const full = await create(base(), { title: 'full', description: '', completed: true });
    expectTask(full, { title: 'full', description: '', completed: true });
    await expectStored(bare);
    await expectStored(full);
    expect(full.id).not.toBe(bare.id);
  });

  it('GET returns the task, 404 for an id that does not exist', async () => {
    const task = await create(base(), { title: 'to read', description: 'd' });
    const res = await call('GET', `${base()}/${task.id}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.body).toEqual(task);

    const missing = await call('GET', `${base()}/${MISSING_ID}`);
    const body = expectProblem(missing, 404);
    expect(body.title).toBe('Not Found');
  });

  it('PUT replaces every field; created_at stays, updated_at moves; 404 when missing', async () => {
    const task = await create(base(), { title: 'old', description: 'old description' });
    await sleep(5);
    const res = await call('PUT', `${base()}/${task.id}`, { title: '  new  ', description: null, completed: true });
    expect(res.status).toBe(200);
    expectTask(res.body, { id: task.id, title: 'new', description: null, completed: true });
    expect(res.body.created_at).toBe(task.created_at);
    expect(apiMicros(res.body.updated_at)).toBeGreaterThan(apiMicros(task.updated_at));
    await expectStored(res.body);

    const again = await call('PUT', `${base()}/${task.id}`, { title: 'newer', description: 'back', completed: false });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ title: 'newer', description: 'back', completed: false, created_at: task.created_at });
    await expectStored(again.body);

    const missing = await call('PUT', `${base()}/${MISSING_ID}`, { title: 'x', description: null, completed: false });
    expectProblem(missing, 404);
    expect(await db.row(MISSING_ID)).toBeNull();
  });

  it('PUT without every field is a 422 naming the missing ones, and changes nothing', async () => {
    const task = await create(base(), { title: 'keep', description: 'keep me' });
    const rowBefore = await db.row(task.id);
    expectFields(await call('PUT', `${base()}/${task.id}`, { title: 'only title' }), ['description', 'completed']);
    expectFields(await call('PUT', `${base()}/${task.id}`, { description: null, completed: true }), ['title']);
    expectFields(await call('PUT', `${base()}/${task.id}`, { title: 'x', description: 'y' }), ['completed']);
    expectFields(await call('PUT', `${base()}/${task.id}`, {}), ['title', 'description', 'completed']);
    expect(await db.row(task.id)).toEqual(rowBefore);
  });

  it('PATCH changes only the given fields; description null clears it, absent leaves it', async () => {
    const task = await create(base(), { title: 'patch me', description: 'keep this' });
    await sleep(5);
    const title = await call('PATCH', `${base()}/${task.id}`, { title: ' renamed ' });
    expect(title.status).toBe(200);
    expectTask(title.body, { id: task.id, title: 'renamed', description: 'keep this', completed: false });
    expect(title.body.created_at).toBe(task.created_at);
    expect(apiMicros(title.body.updated_at)).toBeGreaterThan(apiMicros(task.updated_at));
    await expectStored(title.body);

    await sleep(5);
    const done = await call('PATCH', `${base()}/${task.id}`, { completed: true });
    expect(done.body).toMatchObject({ title: 'renamed', description: 'keep this', completed: true });
    expect(apiMicros(done.body.updated_at)).toBeGreaterThan(apiMicros(title.body.updated_at));

    const cleared = await call('PATCH', `${base()}/${task.id}`, { description: null });
    expect(cleared.status).toBe(200);
    expect(cleared.body).toMatchObject({ title: 'renamed', description: null, completed: true });
    await expectStored(cleared.body);

    const set = await call('PATCH', `${base()}/${task.id}`, { description: 'new text', completed: false });
    expect(set.body).toMatchObject({ title: 'renamed', description: 'new text', completed: false });
    expect(set.body.created_at).toBe(task.created_at);
    await expectStored(set.body);

    const missing = await call('PATCH', `${base()}/${MISSING_ID}`, { title: 'x' });
    expectProblem(missing, 404);
  });

  it('PATCH with no field is a 422 naming the body', async () => {
    const task = await create(base(), { title: 'untouched' });
    const rowBefore = await db.row(task.id);
    expectFields(await call('PATCH', `${base()}/${task.id}`, {}), ['body']);
    expect(await db.row(task.id)).toEqual(rowBefore);
  });

  it('PATCH …/complete without a body toggles, with {"completed": bool} sets', async () => {
    const task = await create(base(), { title: 'toggle me' });
    const path = `${base()}/${task.id}/complete`;
    await sleep(5);
    const on = await call('PATCH', path);
    expect(on.status).toBe(200);
    expectTask(on.body, { id: task.id, title: 'toggle me', completed: true });
    expect(on.body.created_at).toBe(task.created_at);
    expect(apiMicros(on.body.updated_at)).toBeGreaterThan(apiMicros(task.updated_at));
    await expectStored(on.body);

    const off = await call('PATCH', path);
    expect(off.body.completed).toBe(false);
    await expectStored(off.body);

    // Setting is idempotent, unlike toggling.
    for (const completed of [true, true, false, false, true]) {
      const res = await call('PATCH', path, { completed });
      expect(res.status).toBe(200);
      expect(res.body.completed).toBe(completed);
    }
    await expectStored((await call('GET', `${base()}/${task.id}`)).body);

    // An empty body with a JSON content type is "no body": a toggle.
    const empty = await call('PATCH', path, '', { headers: { 'content-type': 'application/json' } });
    expect(empty.status).toBe(200);
    expect(empty.body.completed).toBe(false);

    expectProblem(await call('PATCH', `${base()}/${MISSING_ID}/complete`), 404);
    expectProblem(await call('PATCH', `${base()}/${MISSING_ID}/complete`, { completed: true }), 404);
  });

  it('PATCH …/complete body rules: boolean only, nothing else, JSON only', async () => {
    const task = await create(base(), { title: 'strict toggle' });
    const path = `${base()}/${task.id}/complete`;
    const rowBefore = await db.row(task.id);
    for (const completed of [1, 'true', null, [], {}]) {
      expectFields(await call('PATCH', path, { completed }), ['completed']);
    }
    expectFields(await call('PATCH', path, {}), ['completed']);
    expectFields(await call('PATCH', path, { completed: true, title: 'x' }), ['title']);
    expectFields(await call('PATCH', path, { done: true }), ['done', 'completed']);
    expectProblem(await call('PATCH', path, '{"completed": true}', { headers: { 'content-type': 'text/plain' } }), 415);
    expectProblem(await call('PATCH', path, '{"completed": true}'), 415);
    expectProblem(await call('PATCH', path, '{"completed": ', { headers: { 'content-type': 'application/json' } }), 400);
    expectFields(await call('PATCH', path, [true]), ['body']);
    expect(await db.row(task.id)).toEqual(rowBefore);
  });

  it('50 sequential toggles end where they started, each one flipping', async () => {
    const task = await create(base(), { title: 'fifty flips' });
    const path = `${base()}/${task.id}/complete`;
    let expected = false;
    for (let i = 0; i < 50; i += 1) {
      expected = !expected;
      const res = await call('PATCH', path);
      expect(res.status).toBe(200);
      expect(res.body.completed).toBe(expected);
    }
    expect((await db.row(task.id)).completed).toBe(false);
  });

  it('DELETE answers 204 with no body, then the task is gone (404)', async () => {
    const task = await create(base(), { title: 'delete me' });
    const res = await call('DELETE', `${base()}/${task.id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect(await db.row(task.id)).toBeNull();
    expectProblem(await call('GET', `${base()}/${task.id}`), 404);
    expectProblem(await call('DELETE', `${base()}/${task.id}`), 404);
    expectProblem(await call('PUT', `${base()}/${task.id}`, { title: 'x', description: null, completed: false }), 404);
    expectProblem(await call('PATCH', `${base()}/${task.id}`, { title: 'x' }), 404);
    expectProblem(await call('PATCH', `${base()}/${task.id}/complete`), 404);
    expect(await db.row(task.id)).toBeNull();
  });

  it('GET of the list includes what was created', async () => {
    const task = await create(base(), { title: 'listed' });
    const res = await call('GET', `${base()}?limit=100`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.body).toContainEqual(task);
    for (const t of res.body) expect(t.user_id).toBe(user.userId);
  });
});

describe.each(FORMS)('input rules via $name', ({ base }) => {
  const cases = [
    ['title missing', { description: 'd' }, ['title']],
    ['title empty', { title: '' }, ['title']],
    ['title whitespace only', { title: ' \t\n\u00a0\u2003 ' }, ['title']],
    ['title of 201 characters', { title: 'x'.repeat(201) }, ['title']],
    ['title of 201 emoji', { title: '🌍'.repeat(201) }, ['title']],
    ['title a number', { title: 5 }, ['title']],
    ['title null', { title: null }, ['title']],
    ['title a boolean', { title: true }, ['title']],
    ['title an array', { title: ['x'] }, ['title']],
    ['title an object', { title: { text: 'x' } }, ['title']],
    ['description of 1001 characters', { title: 't', description: 'd'.repeat(1001) }, ['description']],
    ['description of 1001 "é"', { title: 't', description: 'é'.repeat(1001) }, ['description']],
    ['description a number', { title: 't', description: 5 }, ['description']],
    ['description a boolean', { title: 't', description: false }, ['description']],
    ['description an array', { title: 't', description: ['x'] }, ['description']],
    ['completed a string', { title: 't', completed: 'true' }, ['completed']],
    ['completed a number', { title: 't', completed: 1 }, ['completed']],
    ['completed null', { title: 't', completed: null }, ['completed']],
    ['an unknown field', { title: 't', colour: 'red' }, ['colour']],
    ['id', { title: 't', id: 1 }, ['id']],
    ['user_id', { title: 't', user_id: 'someone-else' }, ['user_id']],
    ['created_at', { title: 't', created_at: '2020-01-01T00:00:00Z' }, ['created_at']],
    ['updated_at', { title: 't', updated_at: '2020-01-01T00:00:00Z' }, ['updated_at']],
    [
      'everything wrong at once',
      { title: '', description: 7, completed: 'no', id: 3, user_id: 'x', created_at: 'y', extra: 1 },
      ['title', 'description', 'completed', 'id', 'user_id', 'created_at', 'extra'],
    ],
  ];

  it.each(cases)('POST with %s → 422 naming the field, nothing stored', async (_name, body, fields) => {
    const before = await db.count(user.userId);
    const res = await call('POST', base(), body);
    const problem = expectFields(res, fields);
    for (const field of fields) expect(problem.detail).toContain(field);
    expect(await db.count(user.userId)).toBe(before);
  });

  it('PUT and PATCH apply the same rules to the fields they are given', async () => {
    const task = await create(base(), { title: 'rules', description: 'kept' });
    const rowBefore = await db.row(task.id);
    const path = `${base()}/${task.id}`;
    const full = { title: 't', description: null, completed: false };
    for (const [, body, fields] of cases) {
      if (!('title' in body)) continue; // "title missing" is no violation for PATCH
      expectFields(await call('PUT', path, { ...full, ...body }), fields);
      expectFields(await call('PATCH', path, body), fields);
    }
    expectFields(await call('PATCH', path, { id: 5 }), ['id']);
    expectFields(await call('PATCH', path, { user_id: 'x' }), ['user_id']);
    expectFields(await call('PATCH', path, { title: '   ' }), ['title']);
    expectFields(await call('PATCH', path, { description: 'x'.repeat(1001) }), ['description']);
    expectFields(await call('PATCH', path, { completed: 'yes' }), ['completed']);
    expect(await db.row(task.id)).toEqual(rowBefore);
  });

  it('lengths are counted in Unicode characters: 200 emoji titles and 1000 "é" descriptions fit', async () => {
    const title = '🌍'.repeat(200);
    const description = 'é'.repeat(1000);
    const res = await call('POST', base(), { title, description });
    expect(res.status).toBe(201);
    expect(res.body.title).toBe(title);
    expect(res.body.description).toBe(description);
    await expectStored(res.body);
    // 200 characters after trimming: surrounding whitespace does not count.
    const padded = await call('POST', base(), { title: `   ${'a'.repeat(200)}   ` });
    expect(padded.status).toBe(201);
    expect(padded.body.title).toBe('a'.repeat(200));
    const put = await call('PUT', `${base()}/${res.body.id}`, { title: 'ü'.repeat(200), description: '🚀'.repeat(1000), completed: false });
    expect(put.status).toBe(200);
    await expectStored(put.body);
  });

  it('a body must be sent as application/json (415), with charset parameters allowed', async () => {
    const before = await db.count(user.userId);
    const json = JSON.stringify({ title: 'typed' });
    for (const headers of [{}, { 'content-type': 'text/plain' }, { 'content-type': 'application/jsonx' }, { 'content-type': 'application/x-www-form-urlencoded' }, { 'content-type': 'multipart/form-data; boundary=x' }]) {
      const res = await call('POST', base(), json, { headers });
      expectProblem(res, 415);
    }
    const task = await create(base(), { title: 'for 415' });
    for (const method of ['PUT', 'PATCH']) {
      const res = await call(method, `${base()}/${task.id}`, JSON.stringify({ title: 'x', description: null, completed: true }), {
        headers: { 'content-type': 'text/plain' },
      });
      expectProblem(res, 415);
    }
    expect(await db.count(user.userId)).toBe(before + 1);
    const withCharset = await call('POST', base(), json, { headers: { 'content-type': 'Application/JSON; charset=utf-8' } });
    expect(withCharset.status).toBe(201);
  });

  it('bodies above 16 KiB are refused with 413 and nothing is stored; 16 KiB exactly is fine', async () => {
    const before = await db.count(user.userId);
    const limit = 16 * 1024;
    const headers = { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' };
    const exact = `{"title":"sixteen"}`.padEnd(limit, ' ');
    expect(Buffer.byteLength(exact)).toBe(limit);
    const ok = await rawHttp(worker, { method: 'POST', path: base(), headers, body: exact });
    expect(ok.status).toBe(201);
    expect(ok.body.title).toBe('sixteen');

    const over = `{"title":"too big"}`.padEnd(limit + 1, ' ');
    const huge = JSON.stringify({ title: 'huge', description: 'x'.repeat(200 * 1024) });
    for (const body of [over, huge]) {
      for (const chunked of [false, true]) {
        const res = await rawHttp(worker, { method: 'POST', path: base(), headers, body, chunked });
        expectProblem(res, 413);
      }
    }
    for (const method of ['PUT', 'PATCH']) {
      const body = JSON.stringify({ title: 'x', description: 'y'.repeat(limit), completed: true });
      expectProblem(await rawHttp(worker, { method, path: `${base()}/${ok.body.id}`, headers, body }), 413);
    }
    const toggle = `{"completed": true}`.padEnd(limit + 1, ' ');
    expectProblem(await rawHttp(worker, { method: 'PATCH', path: `${base()}/${ok.body.id}/complete`, headers, body: toggle }), 413);
    expect(await db.count(user.userId)).toBe(before + 1);
    await expectStored(ok.body);
  });

  it('a body streamed without Content-Length is limited while it is read (413)', async () => {
    const before = await db.count(user.userId);
    const headers = { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' };
    const fits = await rawHttp(worker, { method: 'POST', path: base(), headers, body: `{"title":"chunked"}`.padEnd(16 * 1024, ' '), chunked: true });
    expect(fits.status).toBe(201);
    const res = await rawHttp(worker, { method: 'POST', path: base(), headers, body: `{"title":"streamed"}`.padEnd(40 * 1024, ' '), chunked: true });
    expectProblem(res, 413);
    expect(await db.count(user.userId)).toBe(before + 1);
  });

  it('malformed JSON is a 400; JSON that is not an object is a 422', async () => {
    const before = await db.count(user.userId);
    const headers = { 'content-type': 'application/json' };
    for (const text of ['{"title":', '{title:"x"}', "{'title':'x'}", '{"title":"x",}', '', 'nope', '{"title":"x"} trailing']) {
      expectProblem(await call('POST', base(), text, { headers }), 400);
    }
    for (const value of [[{ title: 'x' }], ['x'], 'title', 42, null, true]) {
      expectFields(await call('POST', base(), JSON.stringify(value), { headers }), ['body']);
    }
    expect(await db.count(user.userId)).toBe(before);
  });
});

describe('round trips to the SQL endpoint', () => {
  it('each task operation costs exactly one request', async () => {
    const base = '/api/tasks';
    const { result: created, calls: createCalls } = await sqlDelta(stack, () => call('POST', base, { title: 'count me' }));
    expect(created.status).toBe(201);
    expect(createCalls).toBe(1);
    const id = created.body.id;
    const ops = [
      ['GET', `${base}/${id}`, undefined, 200],
      ['PUT', `${base}/${id}`, { title: 'x', description: null, completed: false }, 200],
      ['PATCH', `${base}/${id}`, { title: 'y' }, 200],
      ['PATCH', `${base}/${id}/complete`, undefined, 200],
      ['PATCH', `${base}/${id}/complete`, { completed: false }, 200],
      ['GET', base, undefined, 200],
      ['GET', `${base}?status=pending&sort=title&order=asc&q=y&limit=1`, undefined, 200],
      ['GET', `/api/${user.userId}/tasks/${id}`, undefined, 200],
      ['GET', `${base}/${MISSING_ID}`, undefined, 404],
      ['PUT', `${base}/${MISSING_ID}`, { title: 'x', description: null, completed: false }, 404],
      ['DELETE', `${base}/${id}`, undefined, 204],
      ['DELETE', `${base}/${id}`, undefined, 404],
    ];
    for (const [method, path, body, status] of ops) {
      const { result, calls } = await sqlDelta(stack, () => call(method, path, body));
      expect(result.status, `${method} ${path}`).toBe(status);
      expect(calls, `${method} ${path}`).toBe(1);
    }
  });

  it('/health, /openapi.json, /api/me and requests refused before the database cost none', async () => {
    const task = await create('/api/tasks', { title: 'zero' });
    const anonymous = api(worker, null);
    const cases = [
      [anonymous, 'GET', '/health', undefined, 200],
      [anonymous, 'GET', '/openapi.json', undefined, 200],
      [call, 'GET', '/api/me', undefined, 200],
      [anonymous, 'GET', '/api/tasks', undefined, 401],
      [anonymous, 'POST', '/api/tasks', { title: 'x' }, 401],
      [call, 'POST', '/api/tasks', { title: '' }, 422],
      [call, 'POST', '/api/tasks', { title: 'x', id: 1 }, 422],
      [call, 'PATCH', `/api/tasks/${task.id}`, {}, 422],
      [call, 'PUT', `/api/tasks/${task.id}`, { title: 'x' }, 422],
      [call, 'PATCH', `/api/tasks/${task.id}/complete`, { completed: 'x' }, 422],
      [call, 'GET', '/api/tasks?limit=0', undefined, 422],
      [call, 'GET', '/api/tasks?sort=nope', undefined, 422],
      [call, 'POST', '/api/tasks', 'not json', 415],
      [call, 'GET', '/api/someone-else/tasks', undefined, 403],
      [call, 'DELETE', `/api/someone-else/tasks/${task.id}`, undefined, 403],
      [call, 'GET', '/api/tasks/abc', undefined, 404],
      [call, 'GET', '/api/tasks/0', undefined, 404],
      [call, 'DELETE', '/api/tasks/-1', undefined, 404],
      [call, 'PATCH', '/api/tasks/99999999999999999999/complete', undefined, 404],
      [call, 'GET', '/api/nothing-here', undefined, 404],
      [call, 'DELETE', '/api/tasks', undefined, 405],
    ];
    for (const [client, method, path, body, status] of cases) {
      const { result, calls } = await sqlDelta(stack, () => client(method, path, body));
      expect(result.status, `${method} ${path}`).toBe(status);
      expect(calls, `${method} ${path}`).toBe(0);
    }
    const { result: tooLarge, calls } = await sqlDelta(stack, () =>
      rawHttp(worker, {
        method: 'POST',
        path: '/api/tasks',
        headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'x'.repeat(17000) }),
      }),
    );
    expect(tooLarge.status).toBe(413);
    expect(calls).toBe(0);
  });
});

describe('concurrency', () => {
  it('50 concurrent toggles of one task: each flips once, the end state matches the count', async () => {
    const task = await create('/api/tasks', { title: 'race', completed: false });
    const results = await Promise.all(
      Array.from({ length: 50 }, () => call('PATCH', `/api/tasks/${task.id}/complete`)),
    );
    for (const res of results) expect(res.status).toBe(200);
    // NOT completed, applied atomically 50 times, passes through true and false 25 times each.
    const states = results.map((r) => r.body.completed);
    expect(states.filter(Boolean).length).toBe(25);
    expect((await db.row(task.id)).completed).toBe(50 % 2 === 1 ? !task.completed : task.completed);

    const odd = await Promise.all(Array.from({ length: 7 }, () => call('PATCH', `/api/tasks/${task.id}/complete`)));
    expect(odd.every((r) => r.status === 200)).toBe(true);
    expect((await db.row(task.id)).completed).toBe(true);
  });

  it('50 concurrent creates all persist with distinct ids', async () => {
    const racer = await signUpAndGetToken(stack);
    const racerCall = api(worker, racer.token);
    const titles = Array.from({ length: 50 }, (_, i) => `concurrent ${i}`);
    const results = await Promise.all(titles.map((title) => racerCall('POST', '/api/tasks', { title })));
    for (const res of results) expect(res.status).toBe(201);
    const ids = results.map((r) => r.body.id);
    expect(new Set(ids).size).toBe(50);
    const rows = await db.rows(racer.userId);
    expect(rows.map((r) => r.title).sort()).toEqual([...titles].sort());
    expect(rows.map((r) => Number(r.id)).sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
    for (const res of results) expect(rows.find((r) => r.id === String(res.body.id)).title).toBe(res.body.title);
  });
});

describe('text is stored and returned exactly', () => {
  const texts = [
    'emoji 🌍🚀✨',
    'combining e\u0301 vs \u00e9',
    'right-to-left שלום עולם',
    'bidi override \u202Eevil\u202C text',
    'zwj family 👩\u200D👩\u200D👧\u200D👦 and flag 🏳\uFE0F\u200D🌈',
    "'; DROP TABLE tasks; --",
    'Robert"); DELETE FROM tasks WHERE (1=1',
    '100% sure',
    'under_score',
    'back\\slash \\\\ and \\x00 literally',
    'quotes \' " ` and $1 $$ dollar',
    'inner\nnew line\tand tab',
    '中文 日本語 한국어',
    '\u{10FFFF} last code point',
    '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math letters',
  ];

  it.each(texts)('%s', async (text) => {
    const res = await call('POST', '/api/tasks', { title: text, description: `desc: ${text}` });
    expect(res.status).toBe(201);
    expect(res.body.title).toBe(text);
    expect(res.body.description).toBe(`desc: ${text}`);
    await expectStored(res.body);
    const got = await call('GET', `/api/tasks/${res.body.id}`);
    expect(got.body.title).toBe(text);
    expect(got.body.description).toBe(`desc: ${text}`);
    const patched = await call('PATCH', `/api/tasks/${res.body.id}`, { description: text });
    expect(patched.body.description).toBe(text);
    await expectStored(patched.body);
  });

  it('the table survives the SQL-looking input', async () => {
    expect(await db.count()).toBeGreaterThan(0);
    const list = await call('GET', '/api/tasks?q=DROP%20TABLE');
    expect(list.status).toBe(200);
    expect(list.body.map((t) => t.title)).toContain("'; DROP TABLE tasks; --");
  });

  // Postgres text cannot hold U+0000. The API accepts the JSON, so the rule has to be
  // the API's: a 422 naming the field, decided before the database is asked.
  it.each([
    ['title', { title: 'nul\u0000byte' }],
    ['description', { title: 'ok', description: 'nul\u0000byte' }],
  ])('a NUL character in %s is a 422 naming that field, with no round trip', async (field, body) => {
    const before = await db.count(user.userId);
    const { result: res, calls } = await sqlDelta(stack, () => call('POST', '/api/tasks', body));
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.text).not.toContain(TEST_DB_PASSWORD);
    expect(await db.count(user.userId)).toBe(before);
    expect(res.body.errors.map((e) => e.field)).toEqual([field]);
    expect(calls).toBe(0);
  });

  it('a lone surrogate escape in JSON is refused, not stored mangled', async () => {
    const before = await db.count(user.userId);
    const res = await call('POST', '/api/tasks', '{"title":"lone \\ud800 surrogate"}', {
      headers: { 'content-type': 'application/json' },
    });
    expect([400, 422]).toContain(res.status);
    expect(await db.count(user.userId)).toBe(before);
  });
});
