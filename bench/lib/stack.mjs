// The databases and local stacks of the benchmark: scratch databases on a PostgreSQL
// server, a local stack per database (each in a child process), and a minimal
// SQL-over-HTTP client for seeding and reading them.

import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The connection string the workers send to the SQL endpoint; the local endpoint ignores it. */
export const FAKE_DATABASE_URL = 'postgresql://bench:bench-password@db.bench.test/tasks';

/**
 * Starts local/stack.mjs in a child process on a free loopback port.
 * @param {{ databaseUrl?: string }} opts  no databaseUrl → in-memory PGlite
 * @returns {Promise<{ url: string, sqlUrl: string, stats(): Promise<{sql:number,jwks:number,auth:number}>, close(): Promise<void> }>}
 */
export async function startStackProcess({ databaseUrl } = {}) {
  const child = fork(path.join(HERE, 'stack-process.mjs'), [], {
    env: { ...process.env, BENCH_STACK_OPTIONS: JSON.stringify({ databaseUrl }) },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const ready = await Promise.race([
    new Promise((resolve) => child.once('message', resolve)),
    exited.then((code) => {
      throw new Error(`local stack exited with ${code} before it was ready:\n${stderr}`);
    }),
    new Promise((_, reject) => setTimeout(() => reject(new Error('local stack not ready after 120 s')), 120_000).unref()),
  ]);
  return {
    url: ready.url,
    sqlUrl: ready.sqlUrl,
    pid: child.pid,
    async stats() {
      const res = await fetch(`${ready.url}/local/stats`);
      return res.json();
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send('close');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * One statement over Neon's SQL-over-HTTP protocol (array mode, raw text).
 * @returns {Promise<string[][]>} the rows
 */
export async function sql(stack, query, params = []) {
  const res = await fetch(stack.sqlUrl, {
    method: 'POST',
    headers: {
      'Neon-Connection-String': FAKE_DATABASE_URL,
      'Neon-Raw-Text-Output': 'true',
      'Neon-Array-Mode': 'true',
      'Content-Type': 'application/json',
    },
    body: JSON.stringify({ query, params }),
    signal: AbortSignal.timeout(300_000),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`SQL failed (HTTP ${res.status}): ${body.message}`);
  return body.rows;
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
 * Creates a database with a random name on the server of `serverUrl`.
 * @returns {Promise<{ name: string, url: string, drop(): Promise<void> }>}
 */
export async function createScratchDatabase(serverUrl, prefix = 'taskapi_bench') {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await adminQuery(serverUrl, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    // FORCE ends sessions still attached (a stack that did not close cleanly).
    drop: () => adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function adminQuery(serverUrl, text) {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
