// The local stacks of the benchmark, each in a child process, and statements for
// seeding them through local/neon-http.mjs (the SQL-over-HTTP client `npm run
// migrate` uses). Scratch databases come from the test harness (tests/support/database.mjs).

import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpBatchExecutor } from '../../local/neon-http.mjs';

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
 * One statement over Neon's SQL-over-HTTP protocol (rows as arrays of text). Seeding
 * 10 000 users × 100 tasks takes a while: hence the long deadline.
 * @returns {Promise<string[][]>} the rows
 */
export async function sql(stack, query, params = []) {
  const execute = httpBatchExecutor({ endpoint: stack.sqlUrl, connectionString: FAKE_DATABASE_URL, timeoutMs: 300_000 });
  const [result] = await execute([{ query, params }]);
  return result.rows;
}
