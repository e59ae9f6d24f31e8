#!/usr/bin/env node
// `npm run migrate`: applies migrations/ to the database named by DATABASE_URL over
// Neon's SQL-over-HTTP protocol — the path the worker itself uses, so it works on Neon
// and on the local endpoint alike.
//
//   DATABASE_URL       required; sent only as the Neon-Connection-String header and
//                      never printed (it holds a password)
//   NEON_SQL_ENDPOINT  optional; default derived from DATABASE_URL as Neon's driver does

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyMigrations, loadMigrations } from '../local/migrations.mjs';
import { httpBatchExecutor, sqlEndpointFor } from '../local/neon-http.mjs';

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'migrations');

async function main() {
  const connectionString = process.env.DATABASE_URL;
  if (!connectionString) {
    console.error('migrate: DATABASE_URL is required (a postgresql:// connection string)');
    return 2;
  }
  const endpoint = process.env.NEON_SQL_ENDPOINT || sqlEndpointFor(connectionString);
  const migrations = loadMigrations(MIGRATIONS_DIR);
  console.log(`migrate: ${migrations.length} migration file(s); SQL endpoint ${endpoint}`);

  const { applied, skipped } = await applyMigrations({
    execute: httpBatchExecutor({ endpoint, connectionString }),
    migrations,
    log: (line) => console.log(`migrate: ${line}`),
  });
  if (applied.length === 0) console.log('migrate: up to date, nothing to apply');
  else console.log(`migrate: applied ${applied.length}, skipped ${skipped.length}`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    // Messages here come from Postgres or from our own code, neither of which
    // includes the connection string.
    const where = err?.migration ? ` in ${err.migration}` : '';
    const code = err?.code ? ` (SQLSTATE ${err.code})` : '';
    console.error(`migrate: failed${where}: ${err?.message ?? err}${code}`);
    process.exitCode = 1;
  },
);
