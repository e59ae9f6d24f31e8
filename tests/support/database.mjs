// Scratch databases on a PostgreSQL server: one with a random name per local stack
// (tests) or per run (benchmark), dropped at the end, so runs never see each other's
// rows. Talks to the server directly with pg, never through the SQL endpoint.

import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Runs one statement on the server of `serverUrl` on a connection of its own. */
export async function adminQuery(serverUrl, text) {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** Whether a PostgreSQL server answers at `serverUrl` (within a few seconds). */
export async function serverReachable(serverUrl) {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Creates a database named `<prefix>_<random hex>` on the server of `serverUrl`.
 * @returns {Promise<{ name: string, url: string, drop(): Promise<void> }>}
 */
export async function createScratchDatabase(serverUrl, prefix = 'taskapi_test') {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await adminQuery(serverUrl, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    // FORCE (PostgreSQL 13+) ends sessions still attached, e.g. from a failed start.
    drop: () => adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
