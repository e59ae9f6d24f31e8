// The one test harness: helpers every suite uses.
//
// Worker (the built wasm in workerd via Miniflare, see startWorker below):
//   startWorker(bindings)            → { fetch, logs, requestLog, mf, close }
//   stackBindings(stack, extra)      → vars/secrets pointing a worker at a local stack
//   startJwksServer({keys})          → a JWKS server on loopback with switchable faults
//
// Keys and tokens for the auth suites (signing keys, SignJWT minting, hand-crafted
// JWS): see the "keys and tokens" section at the end.
//
// Local stack (SQL-over-HTTP endpoint + Better Auth, see local/):
//   startLocalStack(opts)            → the stack object of local/stack.mjs
//   signUpAndGetToken(stack, opts)   → { token, userId, email, cookie }
//   backendName()                    → 'pglite' | 'postgres'
//
// Backend by environment: TEST_BACKEND=pglite (default; in-memory PGlite) or
// TEST_BACKEND=postgres with TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test);
// each stack then gets a fresh database of its own, dropped on close, so runs never
// see each other's rows.

import {
  constants as cryptoConstants,
  createHmac,
  generateKeyPairSync,
  KeyObject,
  randomBytes,
  randomUUID,
  sign as cryptoSign,
} from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import * as jose from 'jose';
import { startStack } from '../local/stack.mjs';
import { createOwnedScratchDatabase } from '../local/owner.mjs';

const ROOT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUILD_DIR = path.join(ROOT_DIR, 'build');

// ------------------------------------------------------------------ local stack

export function backendName() {
  const name = process.env.TEST_BACKEND || 'pglite';
  if (name !== 'pglite' && name !== 'postgres') {
    throw new Error(`TEST_BACKEND must be "pglite" or "postgres", not ${JSON.stringify(name)}`);
  }
  return name;
}

/**
 * Starts a local stack on a free port. `opts` go to startStack (jwtAlg, migrate, …);
 * host, port and the database are chosen here.
 * @param {Parameters<typeof startStack>[0]} [opts]
 */
export async function startLocalStack(opts = {}) {
  if (backendName() === 'pglite') {
    return startStack({ ...opts, host: '127.0.0.1', port: 0, databaseUrl: undefined, dataDir: undefined });
  }

  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) throw new Error('TEST_BACKEND=postgres needs TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)');
  // Owned by the non-superuser owner role, which the stack connects as (see
  // local/owner.mjs); the superuser URL only serves backend.admin().
  const scratch = await createOwnedScratchDatabase(serverUrl);

  let stack;
  try {
    stack = await startStack({
      ...opts, host: '127.0.0.1', port: 0, databaseUrl: scratch.databaseUrl, adminDatabaseUrl: scratch.adminUrl, dataDir: undefined,
    });
  } catch (err) {
    await scratch.drop();
    throw err;
  }
  const closeStack = stack.close;
  let closing = null;
  return Object.assign(stack, {
    databaseName: scratch.name,
    close() {
      closing ??= closeStack().finally(() => scratch.drop());
      return closing;
    },
  });
}

/**
 * Signs a new user up on the stack's Better Auth and fetches a JWT for them, as the
 * frontend would: POST /api/auth/sign-up/email, then GET /api/auth/token with the
 * session cookie.
 * @param {{ url: string }} stack
 * @param {{ email?: string, name?: string, password?: string }} [opts]
 * @returns {Promise<{ token: string, userId: string, email: string, cookie: string }>}
 */
export async function signUpAndGetToken(stack, { email, name = 'Test User', password } = {}) {
  email ??= `user-${randomUUID()}@example.test`;
  password ??= `pw-${randomBytes(12).toString('hex')}`;
  const signUp = await fetch(`${stack.url}/api/auth/sign-up/email`, {
    method: 'POST',
    // Better Auth refuses state-changing requests without an Origin it trusts.
    headers: { 'Content-Type': 'application/json', Origin: stack.url },
    body: JSON.stringify({ email, password, name }),
  });
  if (signUp.status !== 200) {
    throw new Error(`sign-up failed: HTTP ${signUp.status} ${await signUp.text()}`);
  }
  const { user } = await signUp.json();
  const cookie = signUp.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');

  const tokenResponse = await fetch(`${stack.url}/api/auth/token`, { headers: { Cookie: cookie } });
  if (tokenResponse.status !== 200) {
    throw new Error(`token request failed: HTTP ${tokenResponse.status} ${await tokenResponse.text()}`);
  }
  const { token } = await tokenResponse.json();
  return { token, userId: user.id, email, cookie };
}

// ------------------------------------------------------------------ the worker

/**
 * Loads the built worker (build/index.js + index_bg.wasm, made by `npm run build`
 * before the suites run) into Miniflare, i.e. into workerd, with `bindings` as its
 * vars and secrets. Everything the worker logs is collected in `logs` (one entry per
 * line) so suites can assert on the request log and on what it must never contain.
 */
export async function startWorker(bindings = {}) {
  const logs = [];
  const mf = new Miniflare({
    modules: true,
    scriptPath: path.join(BUILD_DIR, 'index.js'),
    // workerd refuses modules outside the root; the wasm sits next to index.js.
    modulesRoot: BUILD_DIR,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: compatibilityDate(),
    bindings,
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        readline.createInterface({ input: stream }).on('line', (line) => logs.push(line));
      }
    },
  });
  await mf.ready;
  return {
    mf,
    logs,
    /** Request log lines the worker wrote, parsed. */
    requestLog: () =>
      logs.flatMap((line) => {
        try {
          const entry = JSON.parse(line);
          return entry && typeof entry === 'object' && 'route' in entry ? [entry] : [];
        } catch {
          return [];
        }
      }),
    fetch: (pathAndQuery, init) => mf.dispatchFetch(new URL(pathAndQuery, 'http://worker.test').toString(), init),
    close: () => mf.dispose(),
  };
}

/** Bindings that point a worker at a local stack (its SQL endpoint, JWKS and issuer). */
export function stackBindings(stack, extra = {}) {
  return {
    AUTH_ISSUER: stack.issuer,
    AUTH_AUDIENCE: stack.audience,
    AUTH_JWKS_URL: stack.jwksUrl,
    // The local endpoint ignores the credentials; the worker still sends them as Neon
    // would receive them, so a leak of this value in logs would be caught by tests.
    DATABASE_URL: `postgresql://tester:${TEST_DB_PASSWORD}@db.local.test/tasks`,
    NEON_SQL_ENDPOINT: stack.sqlUrl,
    ...extra,
  };
}

/** A password placed in DATABASE_URL that must never appear in logs or responses. */
export const TEST_DB_PASSWORD = 'pw-never-log-this-7f3a';

function compatibilityDate() {
  const toml = fs.readFileSync(path.join(ROOT_DIR, 'wrangler.toml'), 'utf8');
  const match = toml.match(/^compatibility_date\s*=\s*"([^"]+)"/m);
  if (!match) throw new Error('compatibility_date not found in wrangler.toml');
  return match[1];
}

/**
 * A JWKS server on loopback whose behaviour a test can change between requests, and
 * which counts the requests it gets.
 *   mode: 'ok' | 'error' (HTTP 500) | 'slow' (answers after `delayMs`) | 'redirect'
 *         (302 to a valid JWKS) | 'huge' (a JWKS above 64 KiB) | 'malformed'
 */
export async function startJwksServer({ keys = [], cacheControl } = {}) {
  const state = { keys, cacheControl, mode: 'ok', delayMs: 8000, hits: 0 };
  const server = http.createServer((req, res) => {
    if (req.url === '/redirected') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: state.keys }));
      return;
    }
    state.hits += 1;
    const send = (status, body, headers = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body);
    };
    const cc = state.cacheControl ? { 'cache-control': state.cacheControl } : {};
    switch (state.mode) {
      case 'ok':
        return send(200, JSON.stringify({ keys: state.keys }), cc);
      case 'error':
        return send(500, '{"error":"boom"}');
      case 'slow':
        return setTimeout(() => send(200, JSON.stringify({ keys: state.keys })), state.delayMs);
      case 'redirect':
        return send(302, '', { location: '/redirected' });
      case 'huge': {
        const padding = { kty: 'oct', k: 'x'.repeat(70 * 1024) };
        return send(200, JSON.stringify({ keys: [...state.keys, padding] }));
      }
      case 'malformed':
        return send(200, '{"keys": [ not json');
      default:
        throw new Error(`unknown mode ${state.mode}`);
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/jwks`;
  return Object.assign(state, {
    url,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  });
}

// ------------------------------------------------------------------ keys and tokens
// Added for the auth suites (auth, jwks, better-auth): signing keys with their public
// JWKs, tokens minted with jose's SignJWT, and hand-crafted compact JWS for inputs
// jose refuses to produce (crit headers, string dates, weak RSA keys, …).
//
//   authBindings(extra)                     → worker bindings with a test issuer/audience
//   generateSigningKey(alg, opts)           → { alg, kid, privateKey, publicKey, jwk }
//   hmacKey(secret)                         → an HS256 "key" for mintToken/signCompact
//   mintToken(key, claims, header)          → a JWT from jose SignJWT with valid defaults
//   signCompact(key, header, payload)       → a compact JWS signed exactly as given
//   validClaims(overrides), nowSeconds(), b64url(data)
//   waitForRequestLog(worker, count)        → the request log once it has `count` lines

export const TEST_ISSUER = 'https://issuer.test';
export const TEST_AUDIENCE = 'task-api';

/**
 * Bindings for a worker that verifies tokens of TEST_ISSUER/TEST_AUDIENCE. `extra`
 * adds or overrides variables; a variable given as `undefined` is left out.
 */
export function authBindings(extra = {}) {
  const all = {
    AUTH_ISSUER: TEST_ISSUER,
    AUTH_AUDIENCE: TEST_AUDIENCE,
    DATABASE_URL: `postgresql://tester:${TEST_DB_PASSWORD}@db.local.test/tasks`,
    // Nothing listens there: /api/me needs no database.
    NEON_SQL_ENDPOINT: 'http://127.0.0.1:9/sql',
    ...extra,
  };
  return Object.fromEntries(Object.entries(all).filter(([, value]) => value !== undefined));
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

export function b64url(data) {
  return Buffer.from(typeof data === 'string' ? data : new Uint8Array(data)).toString('base64url');
}

/** Claims every accepted token needs, with `overrides` applied (`undefined` removes one). */
export function validClaims(overrides = {}) {
  const now = nowSeconds();
  return dropUndefined({
    iss: TEST_ISSUER,
    aud: TEST_AUDIENCE,
    sub: 'user-1',
    iat: now,
    exp: now + 300,
    ...overrides,
  });
}

/**
 * A signing key for `alg` ('EdDSA', 'ES256', 'ES512', 'RS256', 'PS256', 'RS384', …)
 * and its public JWK with `kid` and any extra JWK members (`use`, `alg`, `key_ops`).
 * Keys come from jose.generateKeyPair, except RSA keys below 2048 bits (`bits`), which
 * jose refuses to create and which come from node:crypto.
 * @param {string} alg
 * @param {{ kid?: string, bits?: number, jwk?: object }} [opts]
 */
export async function generateSigningKey(alg, { kid, bits, jwk: members = {} } = {}) {
  let pair;
  let publicJwk;
  if (bits !== undefined && bits < 2048) {
    pair = generateKeyPairSync('rsa', { modulusLength: bits });
    publicJwk = pair.publicKey.export({ format: 'jwk' });
  } else {
    pair = await jose.generateKeyPair(alg, bits ? { modulusLength: bits } : {});
    publicJwk = await jose.exportJWK(pair.publicKey);
  }
  const { privateKey, publicKey } = pair;
  return { alg, kid, privateKey, publicKey, jwk: dropUndefined({ ...publicJwk, kid, ...members }) };
}

/** An HS256 key: the UTF-8 bytes of `secret`, as the worker uses AUTH_JWT_SECRET. */
export function hmacKey(secret, { kid } = {}) {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  return { alg: 'HS256', kid, privateKey: bytes };
}

/**
 * A JWT minted with jose's SignJWT: `validClaims(claims)` as payload, header
 * `{alg, kid}` of the key plus `header`.
 */
export async function mintToken(key, claims = {}, header = {}) {
  const protectedHeader = dropUndefined({ alg: key.alg, kid: key.kid, ...header });
  const payload = validClaims(claims);
  if (key.privateKey instanceof KeyObject) return signCompact(key, protectedHeader, payload);
  return new jose.SignJWT(payload).setProtectedHeader(protectedHeader).sign(key.privateKey);
}

/**
 * A compact JWS built by hand: `header` and `payload` (objects, or strings used
 * verbatim) signed with `key` under `header.alg`, which need not be the key's own
 * algorithm (e.g. HS256 with an arbitrary secret, RS384 with an RSA key).
 */
export function signCompact(key, header, payload) {
  const text = (part) => (typeof part === 'string' ? part : JSON.stringify(part));
  const alg = typeof header === 'string' ? JSON.parse(header).alg : header.alg;
  const signingInput = `${b64url(text(header))}.${b64url(text(payload))}`;
  return `${signingInput}.${b64url(signBytes(alg, key.privateKey, Buffer.from(signingInput)))}`;
}

function signBytes(alg, privateKey, data) {
  const hmac = alg.match(/^HS(\d+)$/);
  if (hmac) return createHmac(`sha${hmac[1]}`, privateKey).update(data).digest();
  const keyObject = privateKey instanceof KeyObject ? privateKey : KeyObject.from(privateKey);
  // Case-insensitive, so that tokens with a misspelt `alg` ("eddsa") can be made.
  const hash = `sha${alg.slice(2)}`;
  switch (alg.slice(0, 2).toUpperCase()) {
    case 'ED':
      return cryptoSign(null, data, keyObject);
    case 'ES':
      return cryptoSign(hash, data, { key: keyObject, dsaEncoding: 'ieee-p1363' });
    case 'RS':
      return cryptoSign(hash, data, keyObject);
    case 'PS':
      return cryptoSign(hash, data, {
        key: keyObject,
        padding: cryptoConstants.RSA_PKCS1_PSS_PADDING,
        saltLength: Number(alg.slice(2)) / 8,
      });
    default:
      throw new Error(`signCompact cannot sign ${alg}`);
  }
}

/** The worker's request log once it holds at least `count` lines (stdio is async). */
export async function waitForRequestLog(worker, count, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (worker.requestLog().length < count) {
    if (Date.now() > deadline) {
      throw new Error(`expected ${count} request log lines, got ${worker.requestLog().length}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return worker.requestLog();
}

function dropUndefined(object) {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));
}

// ------------------------------------------------------------------ task API suites
// Added for the task suites (tasks, isolation, list, db-faults, cors, openapi).
//
//   api(worker, token, opts)      → call(method, path, body?, init?) → { status, headers, text, body }
//   taskDb(stack)                 → direct reads of the stack's database through the real
//                                   @neondatabase/serverless driver (rows, row, count, query)
//   sqlDelta(stack, fn)           → { result, calls }: requests the stack's SQL endpoint got during fn
//   startSqlDouble({ forwardTo }) → a stand-in SQL-over-HTTP endpoint that records what it is
//                                   sent and answers as told (forward to the real one, fail, stall)

// Imports are hoisted: this one belongs to the section below.
import { neon, neonConfig } from '@neondatabase/serverless';

/**
 * A request helper bound to one worker and one token (null: no Authorization header).
 * `body`: an object or array is sent as JSON with `Content-Type: application/json`; a
 * string or bytes are sent verbatim as bytes, so no Content-Type is added implicitly
 * (set one in `init.headers`). Headers given as `undefined` in `init.headers` are
 * removed. `body` of the reply is the parsed JSON, or null when it is not JSON.
 */
export function api(worker, token, { origin, headers: baseHeaders = {} } = {}) {
  return async function call(method, path, body, init = {}) {
    const headers = { ...baseHeaders };
    if (token) headers.authorization = `Bearer ${token}`;
    if (origin) headers.origin = origin;
    let payload;
    if (typeof body === 'string') payload = new TextEncoder().encode(body);
    else if (body instanceof Uint8Array) payload = body;
    else if (body !== undefined) {
      payload = new TextEncoder().encode(JSON.stringify(body));
      headers['content-type'] = 'application/json';
    }
    Object.assign(headers, init.headers);
    const res = await worker.fetch(path, {
      method,
      headers: Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)),
      body: payload,
    });
    const text = await res.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    return { status: res.status, headers: res.headers, text, body: parsed };
  };
}

// The Neon driver finds its endpoint through the global neonConfig.fetchEndpoint; each
// reader gets a host name of its own that this map resolves to its stack.
const readerEndpoints = new Map();
let readerCount = 0;

/**
 * Reads the stack's `tasks` table directly (not through the worker), with the real
 * Neon driver pointed at the stack's SQL endpoint. Timestamps and ids come back as
 * Postgres' own text, so rows compare exactly (microseconds included). These reads
 * are requests to the SQL endpoint too: keep them out of `sqlDelta` measurements.
 */
export function taskDb(stack) {
  const host = `reader-${(readerCount += 1)}.local.test`;
  readerEndpoints.set(host, stack.sqlUrl);
  neonConfig.fetchEndpoint = (h) => {
    const url = readerEndpoints.get(h);
    if (!url) throw new Error(`no local SQL endpoint registered for ${h}`);
    return url;
  };
  const sql = neon(`postgresql://reader:unused@${host}/tasks`);
  const columns =
    'id::text AS id, user_id, title, description, completed, created_at::text AS created_at, updated_at::text AS updated_at';
  return {
    query: (text, params = []) => sql.query(text, params),
    /** Every row of `userId` (or of everyone), by id. */
    rows: (userId) =>
      userId === undefined
        ? sql.query(`SELECT ${columns} FROM tasks ORDER BY id`)
        : sql.query(`SELECT ${columns} FROM tasks WHERE user_id = $1 ORDER BY id`, [userId]),
    /** The row with this id, or null. */
    row: async (id) => (await sql.query(`SELECT ${columns} FROM tasks WHERE id = $1::bigint`, [String(id)]))[0] ?? null,
    count: async (userId) => {
      const [row] =
        userId === undefined
          ? await sql.query('SELECT count(*)::int AS n FROM tasks')
          : await sql.query('SELECT count(*)::int AS n FROM tasks WHERE user_id = $1', [userId]);
      return row.n;
    },
  };
}

/** Runs `fn` and reports how many requests the stack's SQL endpoint got meanwhile. */
export async function sqlDelta(stack, fn) {
  const before = stack.stats.sql;
  const result = await fn();
  return { result, calls: stack.stats.sql - before };
}

/**
 * A stand-in for Neon's SQL endpoint on loopback. Every request is recorded in
 * `requests` ({ headers, text, json }) and answered by `double.respond(request)`, which
 * a test may replace at any time. It returns one of:
 *   'forward'                          → relayed to `forwardTo` and its answer returned
 *   { forward: true, delayMs, ... }    → relayed, answered after delayMs (status/body override the answer)
 *   { status, body, headers, delayMs } → this answer (body: string, or a value sent as JSON)
 *   'hang'                             → never answered
 *   'reset'                            → the connection is destroyed without an answer
 * Default: 'forward' when `forwardTo` is given, else a 500.
 */
export async function startSqlDouble({ forwardTo } = {}) {
  const sockets = new Set();
  const timers = new Set();
  const later = (ms) =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });
  const double = {
    url: '',
    requests: [],
    get hits() {
      return double.requests.length;
    },
    respond: () => (forwardTo ? 'forward' : { status: 500, body: { message: 'double: no answer configured' } }),
    close: null,
  };
  async function relay(request) {
    const headers = Object.fromEntries(
      Object.entries(request.headers).filter(([k]) => k.startsWith('neon-') || k === 'content-type'),
    );
    const res = await fetch(forwardTo, { method: 'POST', headers, body: request.text });
    return { status: res.status, body: await res.text(), headers: { 'content-type': res.headers.get('content-type') ?? 'application/json' } };
  }
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const text = Buffer.concat(chunks).toString('utf8');
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const request = { method: req.method, headers: req.headers, text, json };
    double.requests.push(request);
    try {
      let reply = await double.respond(request);
      if (reply === 'hang') return;
      if (reply === 'reset') {
        req.socket.destroy();
        return;
      }
      if (reply === 'forward') reply = { forward: true };
      let answer;
      if (reply.forward) {
        const relayed = await relay(request);
        answer = { ...relayed, ...Object.fromEntries(Object.entries(reply).filter(([k]) => ['status', 'body', 'headers'].includes(k))) };
      } else {
        answer = reply;
      }
      if (reply.delayMs) await later(reply.delayMs);
      if (res.destroyed || res.writableEnded) return;
      const body = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? null);
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json', ...answer.headers });
      res.end(body);
    } catch (err) {
      if (!res.headersSent) {
        res.writeHead(599, { 'content-type': 'text/plain' });
        res.end(`double failed: ${err?.message ?? err}`);
      }
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  double.url = `http://127.0.0.1:${server.address().port}/sql`;
  double.close = () =>
    new Promise((resolve) => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return double;
}

/** A loopback URL where nothing listens (a port that was just free). */
export async function closedPortUrl(pathname = '/sql') {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}${pathname}`;
}

/**
 * One HTTP/1.1 request to the worker over a raw socket, written in a single write.
 * For bodies the worker refuses before reading them (413): workerd then closes the
 * connection with the body unread, which resets a client still sending — fetch
 * reports that as a failure and loses the answer, while this reads whatever answer
 * arrived before the reset. `chunked: true` sends the body with chunked transfer
 * encoding (no Content-Length). Returns { status, headers, text, body }.
 */
export async function rawHttp(worker, { method = 'GET', path: target, headers = {}, body = '', chunked = false }) {
  const net = await import('node:net');
  const entry = await worker.mf.ready;
  const payload = Buffer.from(body);
  const lines = [`${method} ${target} HTTP/1.1`, `Host: ${entry.host}`, 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  let wire;
  if (chunked) {
    lines.push('Transfer-Encoding: chunked');
    const parts = [];
    for (let at = 0; at < payload.length; at += 4096) {
      const piece = payload.subarray(at, at + 4096);
      parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
    }
    parts.push(Buffer.from('0\r\n\r\n'));
    wire = Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), ...parts]);
  } else {
    lines.push(`Content-Length: ${payload.length}`);
    wire = Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), payload]);
  }
  const received = await new Promise((resolve, reject) => {
    const chunks = [];
    const socket = net.connect(Number(entry.port), entry.hostname, () => socket.write(wire, () => {}));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('rawHttp: no complete answer within 15 s'));
    }, 15_000);
    socket.on('data', (chunk) => chunks.push(chunk));
    const done = () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    };
    socket.on('end', done);
    // A reset after the answer arrived is expected (see above); the answer is kept.
    socket.on('error', done);
    socket.on('close', done);
  });
  const split = received.indexOf('\r\n\r\n');
  if (split === -1) throw new Error(`rawHttp: no HTTP answer (${received.length} bytes received)`);
  const [statusLine, ...headerLines] = received.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  const responseHeaders = new Headers();
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    responseHeaders.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  let rest = received.subarray(split + 4);
  if (/chunked/i.test(responseHeaders.get('transfer-encoding') ?? '')) {
    const pieces = [];
    for (;;) {
      const eol = rest.indexOf('\r\n');
      if (eol === -1) break;
      const size = parseInt(rest.subarray(0, eol).toString('latin1'), 16);
      if (!size) break;
      pieces.push(rest.subarray(eol + 2, eol + 2 + size));
      rest = rest.subarray(eol + 2 + size + 2);
    }
    rest = Buffer.concat(pieces);
  } else if (responseHeaders.has('content-length')) {
    rest = rest.subarray(0, Number(responseHeaders.get('content-length')));
  }
  const text = rest.toString('utf8');
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status, headers: responseHeaders, text, body: parsed };
}

/** The rejection of `promise`; fails the test if it resolves. */
export async function catchError(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}
