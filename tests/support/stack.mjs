// The local stack (local/stack.mjs: SQL-over-HTTP endpoint + Better Auth) for the
// suites: started on the backend TEST_BACKEND names, a signed-up user's token, and
// direct reads of its `tasks` table.
//
// TEST_BACKEND=pglite (default; in-memory PGlite) or TEST_BACKEND=postgres with
// TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test); each stack then
// gets a fresh scratch database of its own, dropped on close.

import { randomBytes, randomUUID } from 'node:crypto';
import { startStack } from '../../local/stack.mjs';
import { createOwnedScratchDatabase } from '../../local/owner.mjs';

export function backendName() {
  const name = process.env.TEST_BACKEND || 'pglite';
  if (name !== 'pglite' && name !== 'postgres') {
    throw new Error(`TEST_BACKEND must be "pglite" or "postgres", not ${JSON.stringify(name)}`);
  }
  return name;
}

/**
 * Starts a local stack on a free port. `opts` go to startStack (jwtAlg, migrate, …);
 * host, port and the database are chosen here.
 * @param {Parameters<typeof startStack>[0]} [opts]
 */
export async function startLocalStack(opts = {}) {
  if (backendName() === 'pglite') {
    return startStack({ ...opts, host: '127.0.0.1', port: 0, databaseUrl: undefined, dataDir: undefined });
  }

  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) throw new Error('TEST_BACKEND=postgres needs TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)');
  // Owned by the non-superuser owner role, which the stack connects as, as the app
  // does on Neon (see local/owner.mjs); the superuser URL only serves backend.admin().
  const scratch = await createOwnedScratchDatabase(serverUrl);

  let stack;
  try {
    stack = await startStack({
      ...opts, host: '127.0.0.1', port: 0, databaseUrl: scratch.databaseUrl, adminDatabaseUrl: scratch.adminUrl, dataDir: undefined,
    });
  } catch (err) {
    await scratch.drop();
    throw err;
  }
  const closeStack = stack.close;
  let closing = null;
  return Object.assign(stack, {
    databaseName: scratch.name,
    close() {
      closing ??= closeStack().finally(() => scratch.drop());
      return closing;
    },
  });
}

/**
 * Signs a new user up on the stack's Better Auth and fetches a JWT for them, as the
 * frontend would: POST /api/auth/sign-up/email, then GET /api/auth/token with the
 * session cookie.
 * @param {{ url: string }} stack
 * @param {{ email?: string, name?: string, password?: string }} [opts]
 * @returns {Promise<{ token: string, userId: string, email: string, cookie: string }>}
 */
export async function signUpAndGetToken(stack, { email, name = 'Test User', password } = {}) {
  email ??= `user-${randomUUID()}@example.test`;
  password ??= `pw-${randomBytes(12).toString('hex')}`;
  const signUp = await fetch(`${stack.url}/api/auth/sign-up/email`, {
    method: 'POST',
    // Better Auth refuses state-changing requests without an Origin it trusts.
    headers: { 'Content-Type': 'application/json', Origin: stack.url },
    body: JSON.stringify({ email, password, name }),
  });
  if (signUp.status !== 200) {
    throw new Error(`sign-up failed: HTTP ${signUp.status} ${await signUp.text()}`);
  }
  const { user } = await signUp.json();
  const cookie = signUp.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');

  const tokenResponse = await fetch(`${stack.url}/api/auth/token`, { headers: { Cookie: cookie } });
  if (tokenResponse.status !== 200) {
    throw new Error(`token request failed: HTTP ${tokenResponse.status} ${await tokenResponse.text()}`);
  }
  const { token } = await tokenResponse.json();
  return { token, userId: user.id, email, cookie };
}


/** Decodes a raw-text cell the way the assertions compare it: booleans and integers
 *  as JS values, everything else (ids, timestamps) as Postgres printed it. */
function decodeCell(value, dataTypeID) {
  if (value === null) return null;
  if (dataTypeID === 16) return value === 't';
  if (dataTypeID === 21 || dataTypeID === 23) return Number(value);
  return value;
}

/**
 * Reads and changes the stack's database directly (not through the worker) as a
 * superuser, so row-level security never hides a row from an assertion and these
 * calls are not requests to the SQL endpoint (they stay out of `sqlDelta`). Ids and
 * timestamps come back as Postgres' own text, so rows compare exactly (microseconds
 * included).
 */
export function taskDb(stack) {
  async function query(text, params = []) {
    const session = await stack.backend.admin();
    try {
      const { fields, rows } = await session.query(text, params);
      return rows.map((row) => Object.fromEntries(fields.map((f, i) => [f.name, decodeCell(row[i], f.dataTypeID)])));
    } finally {
      session.release();
    }
  }
  const columns =
    'id::text AS id, user_id, title, description, completed, created_at::text AS created_at, updated_at::text AS updated_at';
  return {
    query,
    /** Every row of `userId` (or of everyone), by id. */
    rows: (userId) =>
      userId === undefined
        ? query(`SELECT ${columns} FROM tasks ORDER BY id`)
        : query(`SELECT ${columns} FROM tasks WHERE user_id = $1 ORDER BY id`, [userId]),
    /** The row with this id, or null. */
    row: async (id) => (await query(`SELECT ${columns} FROM tasks WHERE id = $1::bigint`, [String(id)]))[0] ?? null,
    count: async (userId) => {
      const [row] =
        userId === undefined
          ? await query('SELECT count(*)::int AS n FROM tasks')
          : await query('SELECT count(*)::int AS n FROM tasks WHERE user_id = $1', [userId]);
      return row.n;
    },
  };
}

/** Runs `fn` and reports how many requests the stack's SQL endpoint got meanwhile. */
export async function sqlDelta(stack, fn) {
  const before = stack.stats.sql;
  const result = await fn();
  return { result, calls: stack.stats.sql - before };
}
