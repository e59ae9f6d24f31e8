// The database owner role, emulating Neon's `neondb_owner`: the app's connection string
// on Neon names a role that owns the database and can create roles but is NOT a
// superuser. Our migrations, the /sql endpoint and Better Auth run as such a role so
// that anything needing superuser powers fails here as it would on Neon.
//
// One difference on purpose: Neon's owner has BYPASSRLS; ours has not, so tests
// prove row-level security holds even for the owner unless the worker switches role.
//
// Roles are cluster-wide on a PostgreSQL server, so the role is shared by every
// scratch database (one per test stack) and created idempotently and race-safely.

import pg from 'pg';
import { randomBytes } from 'node:crypto';

export const OWNER_ROLE = 'taskapi_owner';

/** The attributes the role must have; checked (and restored) on every start. */
const ATTRIBUTES = { rolsuper: false, rolbypassrls: false, rolcreaterole: true, rolcanlogin: true };

/**
 * Makes sure OWNER_ROLE (or `role`, for tests) exists with exactly ATTRIBUTES.
 * `query(text)` runs one statement as a superuser and resolves to `{ rows: object[] }`.
 */
export async function ensureOwnerRole(query, role = OWNER_ROLE) {
  if (!/^[a-z_][a-z0-9_]*$/.test(role)) throw new Error(`not a plain role name: ${role}`);
  // Two stacks starting at once may both see the role missing: the second CREATE
  // then waits for the first to commit and fails on pg_authid's unique index (23505)
  // or as a duplicate (42710); either way the role now exists.
  await query(`DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${role}') THEN
    BEGIN
      CREATE ROLE ${role} LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END IF;
END $$`);
  const { rows } = await query(
    `SELECT rolsuper, rolbypassrls, rolcreaterole, rolcanlogin FROM pg_roles WHERE rolname = '${role}'`,
  );
  const wrong = Object.entries(ATTRIBUTES).some(([key, want]) => asBool(rows[0]?.[key]) !== want);
  // Only when someone changed it: concurrent ALTER ROLEs on one role can fail with
  // "tuple concurrently updated", so the common path does not alter at all.
  if (wrong) await query(`ALTER ROLE ${role} LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS`);
}

function asBool(value) {
  return value === true || value === 't';
}

/**
 * Statements for an embedded PGlite (whose only session is the superuser `postgres`)
 * that make OWNER_ROLE own the current database and everything in `public`, so that
 * `SET SESSION AUTHORIZATION ${OWNER_ROLE}` can then do all the app does. Safe to
 * re-run; the last one hands over tables a data folder got before this emulation.
 */
export const PGLITE_OWNER_SETUP = [
  `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I OWNER TO ${OWNER_ROLE}', current_database()); END $$`,
  `DO $$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT c.oid::regclass AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND c.relowner <> '${OWNER_ROLE}'::regrole
  LOOP
    EXECUTE format('ALTER TABLE %s OWNER TO ${OWNER_ROLE}', r.rel);
  END LOOP;
END $$`,
];

/**
 * A fresh database on the PostgreSQL server at `serverUrl` (a superuser's URL), owned
 * by OWNER_ROLE. Returns its name, `databaseUrl` (connects as OWNER_ROLE: give this
 * to the stack), `adminUrl` (the superuser, same database: for direct assertions) and
 * `drop()`. The owner logs in without a password: the server must trust it the way
 * it trusts the superuser's loopback connections (as the CI and dev servers do).
 */
export async function createOwnedScratchDatabase(serverUrl, { prefix = 'taskapi_test' } = {}) {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await withClient(serverUrl, async (client) => {
    await ensureOwnerRole((text) => client.query(text));
    await client.query(`CREATE DATABASE ${name} OWNER ${OWNER_ROLE}`);
  });
  const adminUrl = new URL(serverUrl);
  adminUrl.pathname = `/${name}`;
  const databaseUrl = new URL(adminUrl);
  databaseUrl.username = OWNER_ROLE;
  databaseUrl.password = '';
  return {
    name,
    databaseUrl: databaseUrl.toString(),
    adminUrl: adminUrl.toString(),
    // FORCE (PostgreSQL 13+) ends sessions still attached, e.g. from a failed start.
    drop: () => withClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  };
}

async function withClient(url, fn) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
