// The local stack: one HTTP server standing in for Neon's SQL-over-HTTP endpoint and a
// hosted Better Auth, both on one database (PGlite or a PostgreSQL server).
//
//   POST /sql          Neon's SQL-over-HTTP protocol
//   /api/auth/*        Better Auth (JWKS at /api/auth/jwks, JWT at /api/auth/token)
//   GET /local/stats   request counters, for tests and benchmarks
//   GET /, /demo/*     the demo page (local/demo/), when asked for with `demo`
//
// Local only; never deployed. Whoever reaches /sql can run any SQL on the database
// (Better Auth's users, sessions and signing keys included), so by default the stack
// listens on loopback only, and every request must name it in `Host` by a loopback
// name or the configured host: a web page that rebinds its own DNS name to 127.0.0.1
// still sends its own name and is refused.

import http from 'node:http';
import { isIPv4 } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openBackend } from './backend.mjs';
import { createSqlEndpoint, sendJson } from './sql-endpoint.mjs';
import { createAuth } from './auth.mjs';
import { applyMigrations, backendExecutor, loadMigrations } from './migrations.mjs';
import { loadOrCreateSecret, randomSecret } from './secret.mjs';
import { createDemoHandler } from './demo/serve.mjs';

export const DEFAULT_PORT = 4444;

/** The environment variable (and `unsafeExpose` option) that allows a non-loopback
 *  listening address. */
export const EXPOSE_ENV = 'LOCAL_STACK_UNSAFE_EXPOSE';

/** Names a browser or tool uses for this machine's loopback interface. */
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/** True for an address or name that only this machine can reach. */
export function isLoopbackHost(host) {
  const h = String(host).toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || (isIPv4(h) && h.startsWith('127.'));
}

/** Throws unless `host` is loopback or exposure was asked for; warns loudly if so. */
function checkListenHost(host, unsafeExpose, warn) {
  if (isLoopbackHost(host)) return;
  if (!unsafeExpose) {
    throw new Error(
      `refusing to listen on ${JSON.stringify(host)}: the local stack runs any SQL it is sent and holds ` +
        `Better Auth's signing keys, so it listens on loopback only (127.0.0.1, localhost, ::1). ` +
        `To expose it anyway on a network you trust, set ${EXPOSE_ENV}=1.`,
    );
  }
  warn(
    [
      '',
      '!!! WARNING: the local stack is listening on a NON-LOOPBACK address (' + host + ').',
      '!!! Anyone who can reach it can run ANY SQL on its database (POST /sql), read',
      "!!! Better Auth's users, sessions and signing keys, and mint tokens your worker trusts.",
      `!!! Use it only on an isolated, trusted network (${EXPOSE_ENV} is set).`,
      '',
    ].join('\n'),
  );
}

/** Host header values this stack answers to on `port`. */
function allowedHostHeaders(host, port, allowedHosts) {
  const names = new Set(LOOPBACK_NAMES);
  const configured = host.includes(':') ? `[${host}]` : host;
  // A wildcard address is not a name anyone should be sending.
  if (!['0.0.0.0', '[::]', '[::0]'].includes(configured)) names.add(configured);
  for (const name of allowedHosts) names.add(name.includes(':') && !name.startsWith('[') ? `[${name}]` : name);
  const values = new Set();
  for (const name of names) {
    values.add(`${name.toLowerCase()}:${port}`);
    // Clients leave the default port out.
    if (port === 80) values.add(name.toLowerCase());
  }
  return values;
}
const DEFAULT_MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'migrations');

/**
 * @param {{
 *   host?: string, port?: number, databaseUrl?: string, adminDatabaseUrl?: string,
 *   dataDir?: string, jwtAlg?: 'EdDSA'|'ES256'|'ES512'|'RS256'|'PS256', baseURL?: string,
 *   secret?: string, secretFile?: string, connectionString?: string,
 *   unsafeExpose?: boolean, allowedHosts?: string[], migrate?: boolean,
 *   migrationsDir?: string, log?: (line: string) => void, warn?: (line: string) => void,
 *   jwtExpirationSeconds?: number, demo?: { workerUrl: string | (() => string) },
 * }} [options]
 *   port 0 picks a free port. No databaseUrl → PGlite in dataDir (in memory without
 *   one). adminDatabaseUrl: a superuser's URL of the same database, only for
 *   `backend.admin()` in tests. migrate: false skips applying migrations/ (Better
 *   Auth's tables are always created). baseURL defaults to the server's own URL and is
 *   the tokens' iss and aud. Better Auth's secret: `secret`, else the one kept in
 *   `secretFile` (created on first use), else random for this process.
 *   connectionString: when set, /sql refuses any other Neon-Connection-String.
 *   host must be loopback unless unsafeExpose. allowedHosts: more names accepted in
 *   the Host header (besides loopback names and host). jwtExpirationSeconds: the
 *   tokens' lifetime (Better Auth's default, 15 minutes, when absent). demo: serve the
 *   demo page (local/demo/) at `/`, calling the worker at `workerUrl` (a function is
 *   asked per page load). Browsers may sign in from `http://127.0.0.1:<port>` and
 *   `http://localhost:<port>` as well as from baseURL.
 * @returns {Promise<{ url: string, sqlUrl: string, jwksUrl: string, issuer: string,
 *   audience: string, stats: { sql: number, jwks: number, auth: number },
 *   backend: object, close(): Promise<void> }>}
 */
export async function startStack({
  host = '127.0.0.1',
  port = DEFAULT_PORT,
  databaseUrl,
  adminDatabaseUrl,
  dataDir,
  jwtAlg = 'EdDSA',
  baseURL,
  secret,
  secretFile,
  connectionString,
  unsafeExpose = false,
  allowedHosts = [],
  migrate = true,
  migrationsDir = DEFAULT_MIGRATIONS_DIR,
  jwtExpirationSeconds,
  demo,
  log = (line) => console.log(line),
  warn = (line) => console.warn(line),
} = {}) {
  checkListenHost(host, unsafeExpose, warn);
  if (!secret && secretFile) {
    const stored = loadOrCreateSecret(secretFile);
    secret = stored.secret;
    if (stored.created) log(`[local-stack] created a random Better Auth secret in ${secretFile}`);
  }
  secret ||= randomSecret();

  const backend = await openBackend({ databaseUrl, dataDir, adminDatabaseUrl });
  let server;
  try {
    if (migrate) {
      await applyMigrations({ execute: backendExecutor(backend), migrations: loadMigrations(migrationsDir) });
    }

    // sql: requests to /sql; jwks: requests for the JWKS; auth: all other Better Auth
    // requests. Counted when they arrive, whatever their outcome.
    const stats = { sql: 0, jwks: 0, auth: 0 };
    const handleSql = createSqlEndpoint({ backend, stats, connectionString });
    let handleAuth = null; // set once Better Auth knows its base URL (after listen)
    // Bundled before listening, so the page is never asked for before its script exists.
    const handleDemo = demo ? await createDemoHandler(demo) : null;
    let allowedHostValues = null; // set once the port is known (after listen)

    server = http.createServer((req, res) => {
      route(req, res).catch((err) => {
        console.error(`[local-stack] ${req.method} ${pathOf(req)} failed: ${err?.message ?? err}`);
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    });

    async function route(req, res) {
      const hostHeader = req.headers.host?.toLowerCase();
      if (!hostHeader || !allowedHostValues?.has(hostHeader)) {
        req.resume();
        const body = 'Forbidden: unexpected Host header. The local stack answers only to loopback names (127.0.0.1, localhost, [::1]) and its configured host.\n';
        res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
        res.end(body);
        return;
      }
      const path = pathOf(req);
      if (path === '/sql') return handleSql(req, res);
      if (path === '/api/auth' || path.startsWith('/api/auth/')) {
        if (path === '/api/auth/jwks') stats.jwks += 1;
        else stats.auth += 1;
        if (!handleAuth) return sendJson(res, 503, { error: 'starting' }, { 'Retry-After': '1' });
        return handleAuth(req, res);
      }
      if (handleDemo?.(req, res)) return;
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

    allowedHostValues = allowedHostHeaders(host, server.address().port, allowedHosts);

    // A wildcard address is no place to send requests to (and its Host is refused):
    // this machine reaches the stack on loopback.
    const reachable = { '0.0.0.0': '127.0.0.1', '::': '::1', '::0': '::1' }[host] ?? host;
    const url = `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${server.address().port}`;
    const boundPort = server.address().port;
    const auth = await createAuth({
      baseURL: baseURL ?? url,
      backend,
      jwtAlg,
      secret,
      jwtExpirationSeconds,
      // The page may be opened under either loopback name; each is its own origin.
      trustedOrigins: [`http://127.0.0.1:${boundPort}`, `http://localhost:${boundPort}`],
      log,
    });
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
