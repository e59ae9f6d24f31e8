#!/usr/bin/env node
// `npm run dev` (after bootstrap and build): the local stack (SQL-over-HTTP endpoint +
// Better Auth + the demo page, see local/) in this process, and `wrangler dev` pointed
// at it.
//
//   WORKER_PORT        default 8787
//   LOCAL_STACK_PORT   default 4444
//   DATABASE_URL       a PostgreSQL server for the local stack; else PGlite in .local-data/
//   AUTH_JWT_ALG       signing algorithm of the local Better Auth (EdDSA by default)
//   BETTER_AUTH_SECRET Better Auth's secret; else a random one kept in .local-data/
//   CORS_ALLOWED_ORIGINS  more origins for the worker (comma-separated), besides the
//                      demo page's http://127.0.0.1:<stack port> and http://localhost:<stack port>
//
// The stack listens on loopback only. The worker gets a connection string made up for
// this run, and the stack's /sql accepts no other: something else on this machine
// that finds the port still cannot use it without that value.
//
// Ctrl-C stops wrangler (and its workerd) first, then the stack.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack } from '../local/stack.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';

function port(name, fallback) {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${name} must be a port number`);
  return n;
}

// `npm run dev` builds before this script runs, so wrangler's own build step is a
// no-op and the worker is up in seconds; the bound only catches a wrangler that hangs.
async function waitForHealth(url, child, deadlineMs = 120_000) {
  const started = Date.now();
  while (Date.now() - started < deadlineMs) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with code ${child.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`worker did not answer ${url} within ${deadlineMs / 1000} s`);
}

function printFlow(stackUrl, workerUrl) {
  const jar = join('.local-data', 'cookies.txt');
  console.log(`
Ready.
  demo page     ${stackUrl}/        (open it in a browser: sign up, then add tasks)
  worker        ${workerUrl}        (GET /health, /api/me, /api/tasks …)
  local stack   ${stackUrl}        (SQL at /sql, Better Auth at /api/auth/*, JWKS at /api/auth/jwks)

Try it (copy-paste into another terminal, from this folder):

  # 1. sign up with the local Better Auth (use sign-in/email with the same body if the user exists)
  curl -s -c ${jar} -H 'Origin: ${stackUrl}' -H 'Content-Type: application/json' \\
    -d '{"email":"you@example.com","password":"correct-horse-battery","name":"You"}' \\
    ${stackUrl}/api/auth/sign-up/email

  # 2. get a JWT for that session
  TOKEN=$(curl -s -b ${jar} ${stackUrl}/api/auth/token | node -pe 'JSON.parse(require("fs").readFileSync(0)).token')

  # 3. call the worker
  curl -s -H "Authorization: Bearer $TOKEN" ${workerUrl}/api/me
  curl -s -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
    -d '{"title":"Buy milk"}' ${workerUrl}/api/tasks
  curl -s -H "Authorization: Bearer $TOKEN" ${workerUrl}/api/tasks

Ctrl-C stops everything.
`);
}

async function main() {
  const workerPort = port('WORKER_PORT', 8787);
  const stackPort = port('LOCAL_STACK_PORT', 4444);
  const databaseUrl = process.env.DATABASE_URL || undefined;
  mkdirSync(join(ROOT, '.local-data'), { recursive: true });

  // The worker's connection string only has to look like Neon's: the local endpoint
  // uses its own database. A real DATABASE_URL is never handed to wrangler here.
  const workerConnectionString = `postgresql://dev:${randomBytes(24).toString('base64url')}@localhost/dev`;
  const workerUrl = `http://${HOST}:${workerPort}`;
  const stack = await startStack({
    host: HOST,
    port: stackPort,
    databaseUrl,
    dataDir: databaseUrl ? undefined : join(ROOT, '.local-data', 'pglite'),
    jwtAlg: process.env.AUTH_JWT_ALG || 'EdDSA',
    secret: process.env.BETTER_AUTH_SECRET || undefined,
    secretFile: join(ROOT, '.local-data', 'better-auth-secret'),
    connectionString: workerConnectionString,
    demo: { workerUrl },
  });

  // The demo page is served by the stack under either loopback name; each is an origin.
  const corsOrigins = [`http://127.0.0.1:${stackPort}`, `http://localhost:${stackPort}`];
  for (const origin of (process.env.CORS_ALLOWED_ORIGINS ?? '').split(',')) {
    if (origin.trim() && !corsOrigins.includes(origin.trim())) corsOrigins.push(origin.trim());
  }

  const vars = {
    AUTH_ISSUER: stack.issuer,
    AUTH_AUDIENCE: stack.audience,
    AUTH_JWKS_URL: stack.jwksUrl,
    NEON_SQL_ENDPOINT: stack.sqlUrl,
    DATABASE_URL: workerConnectionString,
    CORS_ALLOWED_ORIGINS: corsOrigins.join(','),
  };
  const wranglerBin = createRequire(import.meta.url).resolve('wrangler/bin/wrangler.js');
  const args = [wranglerBin, 'dev', '--ip', HOST, '--port', String(workerPort)];
  for (const [name, value] of Object.entries(vars)) args.push('--var', `${name}:${value}`);

  // Spawned as node + wrangler's own script, not through npx: signalling this child
  // then reaches wrangler itself, which stops its workerd (an npx wrapper would not).
  // Offline-friendly wrangler: no metrics, no fetch of the `cf` object from Cloudflare.
  const env = {
    ...process.env,
    WRANGLER_SEND_METRICS: 'false',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    WRANGLER_HIDE_BANNER: 'true',
  };
  const wrangler = spawn(process.execPath, args, { cwd: ROOT, stdio: 'inherit', env });

  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    if (wrangler.exitCode === null) {
      wrangler.kill('SIGINT');
      await new Promise((r) => wrangler.once('exit', r));
    }
    await stack.close();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  wrangler.on('exit', (code) => void stop(code ?? 1));

  try {
    await waitForHealth(`${workerUrl}/health`, wrangler);
  } catch (err) {
    console.error(`dev: ${err?.message ?? err}`);
    await stop(1);
  }
  printFlow(stack.url, workerUrl);
}

main().catch((err) => {
  console.error(`dev: ${err?.message ?? err}`);
  process.exit(1);
});
