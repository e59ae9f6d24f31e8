// Shared helpers for the test suites.
//
// Local stack (SQL-over-HTTP endpoint + Better Auth, see local/):
//   startLocalStack(opts)            → the stack object of local/stack.mjs
//   signUpAndGetToken(stack, opts)   → { token, userId, email, cookie }
//   backendName()                    → 'pglite' | 'postgres'
//
// Backend by environment: TEST_BACKEND=pglite (default; in-memory PGlite) or
// TEST_BACKEND=postgres with TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test);
// each stack then gets a fresh database of its own, dropped on close, so runs never
// see each other's rows.

import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { startStack } from '../local/stack.mjs';

// ------------------------------------------------------------------ local stack

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
  const dbName = `taskapi_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(serverUrl, `CREATE DATABASE ${dbName}`);
  const databaseUrl = new URL(serverUrl);
  databaseUrl.pathname = `/${dbName}`;

  let stack;
  try {
    stack = await startStack({ ...opts, host: '127.0.0.1', port: 0, databaseUrl: databaseUrl.toString(), dataDir: undefined });
  } catch (err) {
    await dropDatabase(serverUrl, dbName);
    throw err;
  }
  const closeStack = stack.close;
  let closing = null;
  return Object.assign(stack, {
    databaseName: dbName,
    close() {
      closing ??= closeStack().finally(() => dropDatabase(serverUrl, dbName));
      return closing;
    },
  });
}

async function adminQuery(serverUrl, text) {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

function dropDatabase(serverUrl, dbName) {
  // FORCE (PostgreSQL 13+) ends sessions still attached, e.g. from a failed start.
  return adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
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
