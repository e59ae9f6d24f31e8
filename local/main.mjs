#!/usr/bin/env node
// `npm run stack`: the local stand-in for Neon + hosted Better Auth.
//
//   LOCAL_STACK_HOST    default 127.0.0.1; anything but loopback needs
//   LOCAL_STACK_UNSAFE_EXPOSE=1 (see local/README.md)
//   LOCAL_STACK_ALLOWED_HOSTS  more names accepted in the Host header (comma-separated)
//   LOCAL_STACK_PORT    default 4444
//   LOCAL_STACK_CONNECTION_STRING  if set, the only Neon-Connection-String /sql accepts
//   DATABASE_URL        a PostgreSQL server to use; else PGlite in .local-data/pglite
//   AUTH_JWT_ALG        EdDSA (default), ES256, ES512, RS256 or PS256
//   BETTER_AUTH_SECRET  Better Auth's secret; else a random one kept in
//                       .local-data/better-auth-secret

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_PORT, EXPOSE_ENV, startStack } from './stack.mjs';

const LOCAL_DATA = join(dirname(fileURLToPath(import.meta.url)), '..', '.local-data');
const DATA_DIR = join(LOCAL_DATA, 'pglite');
const SECRET_FILE = join(LOCAL_DATA, 'better-auth-secret');

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
    unsafeExpose: ['1', 'true'].includes(process.env[EXPOSE_ENV] ?? ''),
    allowedHosts: (process.env.LOCAL_STACK_ALLOWED_HOSTS ?? '').split(',').map((h) => h.trim()).filter(Boolean),
    databaseUrl,
    dataDir: databaseUrl ? undefined : DATA_DIR,
    jwtAlg: process.env.AUTH_JWT_ALG || 'EdDSA',
    secret: process.env.BETTER_AUTH_SECRET || undefined,
    secretFile: SECRET_FILE,
    connectionString: process.env.LOCAL_STACK_CONNECTION_STRING || undefined,
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
