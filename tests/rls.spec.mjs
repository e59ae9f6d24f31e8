// Row-level security, the second isolation layer, shown to work on its own: the batch
// the worker really sent for user B is captured, and its prefix is replayed in front
// of statements that have NO user predicate. The database alone must then keep B to
// B's rows. The stack runs the worker's SQL as a non-superuser owner role (as Neon's
// `neondb_owner`, minus its BYPASSRLS), so none of this holds by superuser accident.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpBatchExecutor } from '../local/neon-http.mjs';
import { OWNER_ROLE } from '../local/owner.mjs';
import {
  api,
  backendName,
  catchError,
  signUpAndGetToken,
  stackBindings,
  startLocalStack,
  startSqlDouble,
  startWorker,
  taskDb,
  waitForRequestLog,
} from './harness.mjs';

const APP_ROLE = 'task_api_user';

let stack;
let relay;
let worker;
let db;
let A;
let B;
let aTaskIds;
let bTaskIds;
/** B's captured batch: its prefix statement and the headers it went with. */
let captured;

/** Sends `queries` over the SQL-over-HTTP protocol with the headers the worker used. */
function replay(queries) {
  const execute = httpBatchExecutor({
    endpoint: stack.sqlUrl,
    connectionString: captured.headers['neon-connection-string'],
  });
  return execute(queries);
}

/** B's prefix, exactly as the worker sent it, then `statements`; the last result. */
async function asBWithoutPredicates(...statements) {
  const results = await replay([captured.prefix, ...statements.map((s) => (typeof s === 'string' ? { query: s, params: [] } : s))]);
  return results.at(-1).rows;
}

beforeAll(async () => {
  stack = await startLocalStack();
  relay = await startSqlDouble({ forwardTo: stack.sqlUrl });
  worker = await startWorker(stackBindings(stack, { NEON_SQL_ENDPOINT: relay.url }));
  db = taskDb(stack);
  [A, B] = await Promise.all([signUpAndGetToken(stack), signUpAndGetToken(stack)]);
  const create = async (who, title) => {
    const res = await api(worker, who.token)('POST', '/api/tasks', { title });
    expect(res.status).toBe(201);
    return res.body.id;
  };
  aTaskIds = [await create(A, 'A one'), await create(A, 'A two')];
  bTaskIds = [await create(B, 'B one'), await create(B, 'B two')];

  const from = relay.requests.length;
  expect((await api(worker, B.token)('GET', '/api/tasks')).status).toBe(200);
  const [request] = relay.requests.slice(from);
  const [prefix] = request.json.queries;
  captured = { prefix, headers: request.headers };
  expect(prefix.params).toEqual([B.userId]);
});

afterAll(async () => {
  await worker?.close();
  await relay?.close();
  await stack?.close();
});

/** Every task row, read as a superuser (row-level security does not apply). */
const allRows = () => db.query('SELECT id::text AS id, user_id, title FROM tasks ORDER BY id');

describe(`the second layer alone keeps B to B's rows (${backendName()})`, () => {
  it("a SELECT without a user predicate returns only B's rows", async () => {
    const rows = await asBWithoutPredicates('SELECT id::text, user_id FROM tasks ORDER BY id');
    expect(rows.map(([id]) => Number(id))).toEqual(bTaskIds);
    expect(new Set(rows.map(([, user]) => user))).toEqual(new Set([B.userId]));
    const named = await asBWithoutPredicates({ query: 'SELECT count(*) FROM tasks WHERE id = ANY($1::bigint[])', params: [`{${aTaskIds}}`] });
    expect(named).toEqual([['0']]);
  });

  it("an UPDATE without a user predicate changes none of A's rows, and RETURNING shows only B's", async () => {
    const before = await allRows();
    const returned = await asBWithoutPredicates("UPDATE tasks SET title = title || ' (touched)' RETURNING id::text, user_id");
    expect(returned.map(([id]) => Number(id)).sort()).toEqual(bTaskIds);
    const after = await allRows();
    for (const row of after) {
      const old = before.find((r) => r.id === row.id);
      expect(row.title).toBe(row.user_id === B.userId ? `${old.title} (touched)` : old.title);
    }
    expect(after.filter((r) => r.user_id === A.userId)).toEqual(before.filter((r) => r.user_id === A.userId));
  });

  it("an INSERT of a row for A is refused by the policy", async () => {
    const before = await allRows();
    const err = await catchError(
      asBWithoutPredicates({ query: "INSERT INTO tasks (user_id, title) VALUES ($1, 'planted for A')", params: [A.userId] }),
    );
    expect(err?.code).toBe('42501');
    expect(err.message).toMatch(/row-level security/);
    expect(await allRows()).toEqual(before);
  });

  it("an UPDATE that moves B's row to A is refused by the policy", async () => {
    const before = await allRows();
    const err = await catchError(
      asBWithoutPredicates({ query: 'UPDATE tasks SET user_id = $1 WHERE id = $2::bigint', params: [A.userId, String(bTaskIds[0])] }),
    );
    expect(err?.code).toBe('42501');
    expect(await allRows()).toEqual(before);
  });

  it("an UPDATE naming A's row by id changes nothing", async () => {
    const before = await allRows();
    const rows = await asBWithoutPredicates({
      query: "UPDATE tasks SET title = 'hijacked' WHERE id = $1::bigint RETURNING id",
      params: [String(aTaskIds[0])],
    });
    expect(rows).toEqual([]);
    expect(await allRows()).toEqual(before);
  });

  it("a DELETE without a user predicate removes only B's rows", async () => {
    const aBefore = (await allRows()).filter((r) => r.user_id === A.userId);
    const returned = await asBWithoutPredicates('DELETE FROM tasks RETURNING id::text, user_id');
    expect(returned.map(([id]) => Number(id)).sort()).toEqual(bTaskIds);
    expect(new Set(returned.map(([, user]) => user))).toEqual(new Set([B.userId]));
    const after = await allRows();
    expect(after).toEqual(aBefore);
  });
});

describe("the idempotency-key table is held to the same rule", () => {
  it("B's prefix before unscoped statements on idempotency_keys: sees, deletes and inserts only B's keys", async () => {
    const send = (who, key) =>
      worker.fetch('/api/tasks', {
        method: 'POST',
        headers: { authorization: `Bearer ${who.token}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ title: `keyed ${key}` }),
      });
    for (const [who, key] of [[A, 'a-key'], [B, 'b-key']]) expect((await send(who, key)).status).toBe(201);
    const owners = await asBWithoutPredicates('SELECT user_id, key FROM idempotency_keys');
    expect(owners).toEqual([[B.userId, 'b-key']]);
    const planted = await catchError(
      asBWithoutPredicates({
        query: "INSERT INTO idempotency_keys (user_id, key, request_hash, task_id, title, completed, task_created_at, task_updated_at) VALUES ($1, 'planted', 'h', 1, 't', false, now(), now())",
        params: [A.userId],
      }),
    );
    expect(planted?.code).toBe('42501');
    const removed = await asBWithoutPredicates('DELETE FROM idempotency_keys RETURNING user_id');
    expect(removed).toEqual([[B.userId]]);
    expect(await db.query('SELECT user_id, key FROM idempotency_keys ORDER BY key')).toEqual([{ user_id: A.userId, key: 'a-key' }]);
    const [table] = await db.query(
      "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'idempotency_keys'::regclass",
    );
    expect(table).toEqual({ relrowsecurity: true, relforcerowsecurity: true });
  });
});

describe('without the user setting, the restricted role sees nothing', () => {
  const switchRoleOnly = { query: `SELECT set_config('role', '${APP_ROLE}', true)`, params: [] };

  it('setting absent: no rows', async () => {
    const results = await replay([switchRoleOnly, { query: 'SELECT count(*) FROM tasks', params: [] }]);
    expect(results.at(-1).rows).toEqual([['0']]);
  });

  it("setting empty (what a reused connection reads after another transaction set it): no rows", async () => {
    // A worker transaction sets it locally; on the same connection the next
    // transaction then reads '' — set it explicitly too, since a server pool may hand
    // out another connection.
    await replay([captured.prefix, { query: 'SELECT 1', params: [] }]);
    const [, , setting, count] = await replay([
      switchRoleOnly,
      { query: "SELECT set_config('app.user_id', '', true)", params: [] },
      { query: "SELECT coalesce(current_setting('app.user_id', true), '<null>')", params: [] },
      { query: 'SELECT count(*) FROM tasks', params: [] },
    ]);
    expect(setting.rows).toEqual([['']]);
    expect(count.rows).toEqual([['0']]);
    if (backendName() === 'pglite') {
      // One session: the previous transaction's local setting reads '' here.
      const [, reused] = await replay([
        switchRoleOnly,
        { query: "SELECT coalesce(current_setting('app.user_id', true), '<null>'), (SELECT count(*) FROM tasks)", params: [] },
      ]);
      expect(reused.rows).toEqual([['', '0']]);
    }
  });

  it('the owner itself, without the prefix, sees nothing either (FORCE binds the owner)', async () => {
    await api(worker, A.token)('POST', '/api/tasks', { title: 'A three' });
    const results = await replay([{ query: 'SELECT current_user, count(*) FROM tasks', params: [] }]);
    expect(results.at(-1).rows).toEqual([[OWNER_ROLE, '0']]);
  });
});

describe("the worker's statements run as the restricted role", () => {
  it('current_user inside the transaction is task_api_user; the connection is the owner', async () => {
    const [row] = await asBWithoutPredicates('SELECT current_user, session_user');
    expect(row).toEqual([APP_ROLE, OWNER_ROLE]);
    const [role] = await db.query(
      'SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = $1',
      [APP_ROLE],
    );
    expect(role).toEqual({ rolsuper: false, rolbypassrls: false, rolcanlogin: false });
    const [table] = await db.query(
      "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'tasks'::regclass",
    );
    expect(table).toEqual({ relrowsecurity: true, relforcerowsecurity: true });
  });
});

describe('a database without the role set up is a misconfiguration, not the client’s fault', () => {
  it("the role missing → 500 \"misconfigured\", nothing written, and the log says what to run", async () => {
    // Roles are cluster-wide: renamed for this test only, and back in `finally`.
    await db.query(`ALTER ROLE ${APP_ROLE} RENAME TO ${APP_ROLE}_away`);
    const logged = worker.requestLog().length;
    try {
      const res = await api(worker, A.token)('GET', '/api/tasks');
      expect(res.status).toBe(500);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.body.detail).toBe('The server is misconfigured.');
      expect(JSON.stringify(res.body)).not.toMatch(/task_api_user|SQLSTATE|role/);
      const created = await api(worker, A.token)('POST', '/api/tasks', { title: 'not stored' });
      expect(created.status).toBe(500);
      const log = (await waitForRequestLog(worker, logged + 2)).at(-1);
      expect(log.status).toBe(500);
      expect(log.reason).toMatch(/npm run migrate/);
    } finally {
      await db.query(`ALTER ROLE ${APP_ROLE}_away RENAME TO ${APP_ROLE}`);
    }
    expect((await api(worker, A.token)('GET', '/api/tasks')).status).toBe(200);
    expect((await allRows()).some((r) => r.title === 'not stored')).toBe(false);
  });
});
