#!/usr/bin/env node
// `npm run stack`: the local stand-in for Neon + hosted Better Auth.
//
//   LOCAL_STACK_HOST    default 127.0.0.1
//   LOCAL_STACK_PORT    default 4444
//   DATABASE_URL        a PostgreSQL server to use; else PGlite in .local-data/pglite
//   AUTH_JWT_ALG        EdDSA (default), ES256, ES512, RS256 or PS256
//   BETTER_AUTH_SECRET  Better Auth's secret; a fixed dev-only value otherwise

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_PORT, startStack } from './stack.mjs';

const DATA_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '.local-data', 'pglite');

function portFromEnv(value) {
  if (value === undefined || value === '') return DEFAULT_PORT;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error('LOCAL_STACK_PORT must be a port number (0-65535)');
  }
  return port;
}

async function main() {
  const databaseUrl = process.env.DATABASE_URL || undefined;
  const stack = await startStack({
    host: process.env.LOCAL_STACK_HOST || '127.0.0.1',
    port: portFromEnv(process.env.LOCAL_STACK_PORT),
    databaseUrl,
    dataDir: databaseUrl ? undefined : DATA_DIR,
    jwtAlg: process.env.AUTH_JWT_ALG || 'EdDSA',
  });

  // The database is described, never printed: DATABASE_URL holds a password.
  const database = databaseUrl ? 'PostgreSQL server from DATABASE_URL' : `PGlite in ${DATA_DIR}`;
  console.log(`local stack ready at ${stack.url} (${database}, JWT ${stack.jwtAlg})`);
  console.log(`  SQL over HTTP   ${stack.sqlUrl}`);
  console.log(`  Better Auth     ${stack.url}/api/auth/*`);
  console.log(`  JWKS            ${stack.jwksUrl}`);
  console.log('worker settings for this stack:');
  console.log(`  NEON_SQL_ENDPOINT=${stack.sqlUrl}`);
  console.log(`  AUTH_ISSUER=${stack.issuer}`);
  console.log(`  AUTH_AUDIENCE=${stack.audience}`);
  console.log(`  AUTH_JWKS_URL=${stack.jwksUrl}`);

  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    console.log(`local stack: ${signal}, shutting down`);
    try {
      await stack.close();
      process.exitCode = 0;
    } catch (err) {
      console.error(`local stack: shutdown failed: ${err?.message ?? err}`);
      process.exitCode = 1;
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  // Error messages from pg/PGlite/Better Auth do not include the connection string.
  console.error(`local stack: failed to start: ${err?.message ?? err}`);
  process.exit(1);
});
