// The local stack: one HTTP server standing in for Neon's SQL-over-HTTP endpoint and a
// hosted Better Auth, both on one database (PGlite or a PostgreSQL server).
//
//   POST /sql          Neon's SQL-over-HTTP protocol
//   /api/auth/*        Better Auth (JWKS at /api/auth/jwks, JWT at /api/auth/token)
//   GET /local/stats   request counters, for tests and benchmarks
//
// Local only; never deployed.

import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openBackend } from './backend.mjs';
import { createSqlEndpoint, sendJson } from './sql-endpoint.mjs';
import { createAuth } from './auth.mjs';
import { applyMigrations, backendExecutor, loadMigrations } from './migrations.mjs';

export const DEFAULT_PORT = 4444;
const DEFAULT_MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'migrations');

/**
 * @param {{
 *   host?: string, port?: number, databaseUrl?: string, dataDir?: string,
 *   jwtAlg?: 'EdDSA'|'ES256'|'ES512'|'RS256'|'PS256', baseURL?: string, secret?: string,
 *   migrate?: boolean, migrationsDir?: string,
 * }} [options]
 *   port 0 picks a free port. No databaseUrl → PGlite in dataDir (in memory without
 *   one). migrate: false skips applying migrations/ (Better Auth's tables are always
 *   created). baseURL defaults to the server's own URL and is the tokens' iss and aud.
 * @returns {Promise<{ url: string, sqlUrl: string, jwksUrl: string, issuer: string,
 *   audience: string, stats: { sql: number, jwks: number, auth: number },
 *   backend: object, close(): Promise<void> }>}
 */
export async function startStack({
  host = '127.0.0.1',
  port = DEFAULT_PORT,
  databaseUrl,
  dataDir,
  jwtAlg = 'EdDSA',
  baseURL,
  secret,
  migrate = true,
  migrationsDir = DEFAULT_MIGRATIONS_DIR,
} = {}) {
  const backend = await openBackend({ databaseUrl, dataDir });
  let server;
  try {
    if (migrate) {
      await applyMigrations({ execute: backendExecutor(backend), migrations: loadMigrations(migrationsDir) });
    }

    // sql: requests to /sql; jwks: requests for the JWKS; auth: all other Better Auth
    // requests. Counted when they arrive, whatever their outcome.
    const stats = { sql: 0, jwks: 0, auth: 0 };
    const handleSql = createSqlEndpoint({ backend, stats });
    let handleAuth = null; // set once Better Auth knows its base URL (after listen)

    server = http.createServer((req, res) => {
      route(req, res).catch((err) => {
        console.error(`[local-stack] ${req.method} ${pathOf(req)} failed: ${err?.message ?? err}`);
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    });

    async function route(req, res) {
      const path = pathOf(req);
      if (path === '/sql') return handleSql(req, res);
      if (path === '/api/auth' || path.startsWith('/api/auth/')) {
        if (path === '/api/auth/jwks') stats.jwks += 1;
        else stats.auth += 1;
        if (!handleAuth) return sendJson(res, 503, { error: 'starting' }, { 'Retry-After': '1' });
        return handleAuth(req, res);
      }
      if (path === '/local/stats') {
        if (req.method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' }, { Allow: 'GET' });
        return sendJson(res, 200, { ...stats });
      }
      req.resume();
      return sendJson(res, 404, { error: 'not found', path });
    }

    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('clientError', (err, socket) => {
      // Malformed HTTP from a client: answer 400 instead of leaving the socket hanging.
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });

    const url = `http://${host.includes(':') ? `[${host}]` : host}:${server.address().port}`;
    const auth = await createAuth({ baseURL: baseURL ?? url, backend, jwtAlg, secret });
    handleAuth = auth.handler;

    let closing = null;
    return {
      url,
      sqlUrl: `${url}/sql`,
      jwksUrl: `${url}/api/auth/jwks`,
      issuer: auth.issuer,
      audience: auth.audience,
      jwtAlg,
      stats,
      backend,
      close() {
        closing ??= (async () => {
          await closeServer(server);
          await backend.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    if (server?.listening) await closeServer(server).catch(() => {});
    await backend.close().catch(() => {});
    throw err;
  }
}

function pathOf(req) {
  const q = req.url.indexOf('?');
  return q === -1 ? req.url : req.url.slice(0, q);
}

function closeServer(server) {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Keep-alive sockets of finished requests would hold close() open, and a client
    // that never finishes its request must not block shutdown for long.
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 2000).unref();
  });
}
