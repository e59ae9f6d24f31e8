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
import pg from 'pg';
import { startStack } from '../local/stack.mjs';

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
  const dbName = `taskapi_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(serverUrl, `CREATE DATABASE ${dbName}`);
  const databaseUrl = new URL(serverUrl);
  databaseUrl.pathname = `/${dbName}`;

  let stack;
  try {
    stack = await startStack({ ...opts, host: '127.0.0.1', port: 0, databaseUrl: databaseUrl.toString(), dataDir: undefined });
  } catch (err) {
    await dropDatabase(serverUrl, dbName);
    throw err;
  }
  const closeStack = stack.close;
  let closing = null;
  return Object.assign(stack, {
    databaseName: dbName,
    close() {
      closing ??= closeStack().finally(() => dropDatabase(serverUrl, dbName));
      return closing;
    },
  });
}

async function adminQuery(serverUrl, text) {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

function dropDatabase(serverUrl, dbName) {
  // FORCE (PostgreSQL 13+) ends sessions still attached, e.g. from a failed start.
  return adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
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
  let privateKey;
  let publicJwk;
  if (bits !== undefined && bits < 2048) {
    const pair = generateKeyPairSync('rsa', { modulusLength: bits });
    privateKey = pair.privateKey;
    publicJwk = pair.publicKey.export({ format: 'jwk' });
  } else {
    const pair = await jose.generateKeyPair(alg, bits ? { modulusLength: bits } : {});
    privateKey = pair.privateKey;
    publicJwk = await jose.exportJWK(pair.publicKey);
  }
  return { alg, kid, privateKey, jwk: dropUndefined({ ...publicJwk, kid, ...members }) };
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
  const hash = `sha${alg.slice(2)}`;
  switch (alg.slice(0, 2)) {
    case 'Ed':
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
