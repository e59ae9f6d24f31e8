// The local stack against the REAL Neon driver (@neondatabase/serverless pointed at it
// with neonConfig.fetchEndpoint) and a REAL JWT verifier (jose): proof that it speaks
// Neon's SQL-over-HTTP protocol and issues Better Auth tokens the way production does.
// Runs on PGlite by default, on PostgreSQL with TEST_BACKEND=postgres.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { neon, neonConfig, NeonDbError } from '@neondatabase/serverless';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { symmetricDecrypt } from 'better-auth/crypto';
import pg from 'pg';
import { startStack } from '../local/stack.mjs';
import { createOwnedScratchDatabase, ensureOwnerRole, OWNER_ROLE } from '../local/owner.mjs';
import { backendName, catchError, readReply, signUpAndGetToken, sleep, startLocalStack } from './harness.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

// Credentials are ignored locally, but must never show up in any output.
const SECRET_PASSWORD = 'neon-pw-should-never-be-logged';
const CONN = `postgresql://app_user:${SECRET_PASSWORD}@ep-local-test.example.neon.tech/neondb?sslmode=require`;

let stack;
let sql;
const output = [];

beforeAll(async () => {
  for (const method of ['log', 'info', 'warn', 'error']) {
    const original = console[method];
    vi.spyOn(console, method).mockImplementation((...args) => {
      output.push(args.map(String).join(' '));
      original(...args);
    });
  }
  stack = await startLocalStack();
  neonConfig.fetchEndpoint = stack.sqlUrl;
  sql = neon(CONN);
  await sql.query('CREATE TABLE scratch (id int PRIMARY KEY, note text)');
});

afterAll(async () => {
  await stack?.close();
  vi.restoreAllMocks();
});

/** A request exactly as the worker sends it, without the driver in between. */
async function postSql(body, headers = {}) {
  const res = await fetch(stack.sqlUrl, {
    method: 'POST',
    headers: {
      'Neon-Connection-String': CONN,
      'Neon-Raw-Text-Output': 'true',
      'Neon-Array-Mode': 'true',
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return readReply(res);
}

describe(`SQL over HTTP through the Neon driver (${backendName()})`, () => {
  it('round-trips integers, numeric and floats', async () => {
    const [row] = await sql.query(
      'SELECT $1::int2 AS i2, $2::int4 AS i4, $3::int8 AS i8, $4::int8 AS big, $5::numeric AS num, $6::float8 AS f8, $7::int8 AS neg',
      [32767, -2147483648, '42', '9223372036854775807', '12345678901234567890.123456789', 1.5, '-9007199254740993'],
    );
    expect(row).toEqual({
      i2: 32767,
      i4: -2147483648,
      // pg's default int8 parser keeps bigints as strings: no precision lost beyond 2^53.
      i8: '42',
      big: '9223372036854775807',
      num: '12345678901234567890.123456789',
      f8: 1.5,
      neg: '-9007199254740993',
    });
  });

  it('keeps boolean params as sent, including the text "f" and "t"', async () => {
    const [row] = await sql.query(
      'SELECT $1::bool AS a, $2::bool AS b, $3::bool AS c, $4::bool AS d, $5::bool AS e',
      ['f', 't', false, true, 'false'],
    );
    expect(row).toEqual({ a: false, b: true, c: false, d: true, e: false });
  });

  it('round-trips text with unicode, quotes and control characters, and NULL', async () => {
    const text = 'héllo wörld ✓ 中文 🌍 "quoted" \'single\' back\\slash\nnew line\ttab';
    const [row] = await sql`SELECT ${text}::text AS t, ${null}::text AS n, char_length(${text}) AS len`;
    expect(row.t).toBe(text);
    expect(row.n).toBeNull();
    expect(row.len).toBe([...text].length);
  });

  it('round-trips arrays, bytea, json and jsonb', async () => {
    const texts = ['a', 'b c', null, 'd"e', 'f\\g', '{x}', 'NULL'];
    const bytes = Buffer.from([0, 1, 2, 127, 128, 255]);
    const json = { a: 1, b: [true, null, 'x'], c: { d: 'é' } };
    const [row] = await sql.query(
      'SELECT $1::text[] AS texts, $2::int[] AS ints, $3::bytea AS bytes, $4::json AS j, $5::jsonb AS jb, $6::int[] AS empty',
      [texts, [1, -2, 3], bytes, JSON.stringify(json), json, []],
    );
    expect(row.texts).toEqual(texts);
    expect(row.ints).toEqual([1, -2, 3]);
    expect(Buffer.from(row.bytes).equals(bytes)).toBe(true);
    expect(row.j).toEqual(json);
    expect(row.jb).toEqual(json);
    expect(row.empty).toEqual([]);
  });

  it('round-trips timestamptz, date and uuid', async () => {
    const when = new Date('2024-02-29T23:59:58.123Z');
    const uuid = '6f1c1b9e-8d3a-4c55-9a57-0c2b6f0e4a11';
    const [row] = await sql.query(
      'SELECT $1::timestamptz AS ts, $2::date::text AS d, $3::uuid AS u, $4::timestamptz AS iso',
      [when, '2024-02-29', uuid, '2024-02-29T23:59:58.123Z'],
    );
    expect(row.ts).toEqual(when);
    expect(row.iso).toEqual(when);
    expect(row.d).toBe('2024-02-29');
    expect(row.u).toBe(uuid);
  });

  it('reports full results like Neon (command, rowCount, fields)', async () => {
    const result = await sql.query("SELECT 1::int4 AS one, 'x'::text AS two", [], { fullResults: true });
    expect(result.command).toBe('SELECT');
    expect(result.rowCount).toBe(1);
    expect(result.fields.map((f) => [f.name, f.dataTypeID])).toEqual([['one', 23], ['two', 25]]);
    const insert = await sql.query("INSERT INTO scratch VALUES (1000, 'a'), (1001, 'b')", [], { fullResults: true });
    expect(insert.command).toBe('INSERT');
    expect(insert.rowCount).toBe(2);
    await sql.query('DELETE FROM scratch WHERE id >= 1000');
  });

  it('runs a transaction and returns one result per statement', async () => {
    const [inserted, counted] = await sql.transaction([
      sql`INSERT INTO scratch VALUES (1, 'one'), (2, 'two') RETURNING id`,
      sql`SELECT count(*)::int AS n FROM scratch WHERE id IN (1, 2)`,
    ]);
    expect(inserted).toEqual([{ id: 1 }, { id: 2 }]);
    expect(counted).toEqual([{ n: 2 }]);
  });

  it('rolls the whole batch back when one statement fails', async () => {
    const err = await catchError(
      sql.transaction([
        sql`INSERT INTO scratch VALUES (10, 'kept?')`,
        sql`INSERT INTO scratch VALUES (1, 'duplicate key')`,
        sql`INSERT INTO scratch VALUES (11, 'never reached')`,
      ]),
    );
    expect(err).toBeInstanceOf(NeonDbError);
    expect(err.code).toBe('23505');
    expect(err.constraint).toBe('scratch_pkey');
    const rows = await sql`SELECT id FROM scratch WHERE id IN (10, 11)`;
    expect(rows).toEqual([]);
  });

  it('returns Postgres errors as NeonDbError with the SQLSTATE and details', async () => {
    const missing = await catchError(sql`SELECT * FROM no_such_table`);
    expect(missing).toBeInstanceOf(NeonDbError);
    expect(missing.code).toBe('42P01');
    expect(missing.message).toMatch(/no_such_table/);
    expect(missing.severity).toBe('ERROR');
    expect(missing.position).toBe('15');

    // As the worker sends it: row-level security admits the row only for the user the
    // batch's first statement sets, so the check constraint is what refuses it.
    const check = await catchError(
      sql.transaction([
        sql`SELECT set_config('app.user_id', 'u1', true), set_config('role', 'task_api_user', true)`,
        sql`INSERT INTO tasks (user_id, title) VALUES ('u1', ${'x'.repeat(201)})`,
      ]),
    );
    expect(check).toBeInstanceOf(NeonDbError);
    expect(check.code).toBe('23514');
    expect(check.constraint).toBe('tasks_title_length');
    expect(check.table).toBe('tasks');

    const syntax = await catchError(sql.query('SELEC 1'));
    expect(syntax.code).toBe('42601');

    // One statement per query, as on Neon (extended protocol).
    const two = await catchError(sql.query('SELECT 1; SELECT 2'));
    expect(two.code).toBe('42601');
  });

  it('refuses writes in a read-only batch (25006) and honours the isolation level', async () => {
    const err = await catchError(sql.transaction([sql`INSERT INTO scratch VALUES (20, 'ro')`], { readOnly: true }));
    expect(err).toBeInstanceOf(NeonDbError);
    expect(err.code).toBe('25006');
    expect(await sql`SELECT id FROM scratch WHERE id = 20`).toEqual([]);

    const [[iso], [ro]] = await sql.transaction(
      [sql`SHOW transaction_isolation`, sql`SHOW transaction_read_only`],
      { isolationLevel: 'Serializable', readOnly: true, deferrable: true },
    );
    expect(iso.transaction_isolation).toBe('serializable');
    expect(ro.transaction_read_only).toBe('on');

    const [[rc]] = await sql.transaction([sql`SHOW transaction_isolation`], { isolationLevel: 'RepeatableRead' });
    expect(rc.transaction_isolation).toBe('repeatable read');
  });

  it('keeps concurrent transactions apart', async () => {
    // On PGlite (one session) a batch must hold the session from BEGIN to COMMIT, or
    // one request's statements would run inside another's transaction.
    const ids = Array.from({ length: 24 }, (_, i) => 100 + i);
    const outcomes = await Promise.allSettled(
      ids.map((id) =>
        sql.transaction([
          sql`INSERT INTO scratch VALUES (${id}, 'concurrent')`,
          sql`SELECT pg_sleep(0.005)`,
          // every third batch fails at its end and must leave nothing behind
          id % 3 === 0 ? sql`SELECT 1 / 0` : sql`SELECT 1`,
        ]),
      ),
    );
    outcomes.forEach((o, i) => {
      if (ids[i] % 3 === 0) expect(o.status === 'rejected' && o.reason.code).toBe('22012');
      else expect(o.status).toBe('fulfilled');
    });
    const rows = await sql`SELECT id FROM scratch WHERE note = 'concurrent' ORDER BY id`;
    expect(rows.map((r) => r.id)).toEqual(ids.filter((id) => id % 3 !== 0));
  });

  it('does not run a request inside a transaction that another holder of the database has open', async () => {
    // Better Auth's transactions await real I/O (e.g. password hashing) mid-way; an
    // SQL request arriving then must wait for the session (PGlite) or use another
    // connection (PostgreSQL), never see the uncommitted row.
    const holder = await stack.backend.connect();
    await holder.query('BEGIN', []);
    await holder.query("INSERT INTO scratch VALUES (300, 'uncommitted')", []);
    // .then() sends it now (the driver's query promises are lazy).
    const request = sql`SELECT count(*)::int AS n FROM scratch WHERE id = 300`.then((rows) => rows);
    await sleep(100);
    await holder.query('ROLLBACK', []);
    holder.release();
    expect(await request).toEqual([{ n: 0 }]);
  });
});

describe(`SQL over HTTP on the wire (${backendName()})`, () => {
  it('answers raw text rows with field metadata, UTC timestamps and no Content-Type needed', async () => {
    const res = await postSql({
      query: "SELECT $1::int8 AS big, $2::bool AS flag, '2024-01-02 03:04:05.678+00'::timestamptz AS ts, current_setting('TimeZone') AS tz, NULL::text AS nothing",
      params: ['9007199254740993', 'f'],
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toMatchObject({
      command: 'SELECT',
      rowCount: 1,
      rowAsArray: true,
      rows: [['9007199254740993', 'f', '2024-01-02 03:04:05.678+00', 'UTC', null]],
    });
    expect(res.body.fields[0]).toEqual({
      name: 'big', tableID: 0, columnID: 0, dataTypeID: 20, dataTypeSize: 8, dataTypeModifier: -1, format: 'text',
    });
    expect(res.body.fields.map((f) => f.dataTypeID)).toEqual([20, 16, 1184, 25, 25]);
  });

  it('returns rows as objects without Neon-Array-Mode, and JSON-typed values without raw text output', async () => {
    const res = await postSql(
      { query: "SELECT 1::int4 AS n, true AS b, 2.5::float8 AS f, '{\"k\":[1]}'::jsonb AS j, 10::int8 AS big, ARRAY[1,2]::int4[] AS a", params: [] },
      { 'Neon-Array-Mode': 'false', 'Neon-Raw-Text-Output': 'false' },
    );
    expect(res.status).toBe(200);
    expect(res.body.rowAsArray).toBe(false);
    expect(res.body.rows).toEqual([{ n: 1, b: true, f: 2.5, j: { k: [1] }, big: '10', a: [1, 2] }]);
  });

  it('accepts JSON numbers, booleans and arrays as params, as Neon does', async () => {
    const res = await postSql({ query: 'SELECT $1::int4 AS n, $2::bool AS b, $3::text[] AS a, $4::jsonb AS j', params: [7, false, ['x', null], { k: 1 }] });
    expect(res.status).toBe(200);
    expect(res.body.rows).toEqual([['7', 'f', '{x,NULL}', '{"k": 1}']]);
  });

  it('answers a batch with {results} and a DDL statement with a null rowCount', async () => {
    const res = await postSql({
      queries: [
        { query: 'CREATE TEMP TABLE t_batch (x int)', params: [] },
        { query: 'INSERT INTO t_batch VALUES ($1), ($2)', params: ['1', '2'] },
        { query: 'SELECT sum(x) FROM t_batch', params: [] },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r) => [r.command, r.rowCount])).toEqual([['CREATE', null], ['INSERT', 2], ['SELECT', 1]]);
    expect(res.body.results[2].rows).toEqual([['3']]);
  });

  it('does not let a transaction left open by one request leak into the next', async () => {
    const begin = await postSql({ query: 'BEGIN ISOLATION LEVEL SERIALIZABLE', params: [] });
    expect(begin.status).toBe(200);
    const next = await postSql({ query: 'SHOW transaction_isolation', params: [] });
    expect(next.body.rows).toEqual([['read committed']]);
  });

  it('rejects malformed requests with clean 4xx JSON and keeps serving', async () => {
    const badJson = await postSql('{"query": "SELECT 1", ');
    expect(badJson.status).toBe(400);
    expect(badJson.body).toMatchObject({ code: '08P01', message: expect.stringMatching(/JSON/) });

    const wrongShape = await postSql({ sql: 'SELECT 1' });
    expect(wrongShape.status).toBe(400);
    expect(wrongShape.body.code).toBe('08P01');

    const badParams = await postSql({ query: 'SELECT 1', params: 'nope' });
    expect(badParams.status).toBe(400);

    const noConn = await fetch(stack.sqlUrl, { method: 'POST', body: JSON.stringify({ query: 'SELECT 1', params: [] }) });
    expect(noConn.status).toBe(400);
    expect(await noConn.json()).toMatchObject({ code: '08P01', message: expect.stringMatching(/Neon-Connection-String/) });

    const notAUrl = await postSql({ query: 'SELECT 1', params: [] }, { 'Neon-Connection-String': `mysql://u:${SECRET_PASSWORD}@h/db` });
    expect(notAUrl.status).toBe(400);
    expect(JSON.stringify(notAUrl.body)).not.toContain(SECRET_PASSWORD);

    const badIsolation = await postSql({ queries: [] }, { 'Neon-Batch-Isolation-Level': 'Chaos' });
    expect(badIsolation.status).toBe(400);

    const get = await fetch(stack.sqlUrl, { headers: { 'Neon-Connection-String': CONN } });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect((await get.json()).code).toBe('08P01');

    const huge = await postSql({ query: 'SELECT $1::text', params: ['x'.repeat(5 * 1024 * 1024)] });
    expect(huge.status).toBe(413);
    expect(huge.body.code).toBe('08P01');

    const elsewhere = await fetch(`${stack.url}/nothing-here`);
    expect(elsewhere.status).toBe(404);
    expect(await elsewhere.json()).toMatchObject({ error: 'not found' });

    const [row] = await sql`SELECT 'still serving' AS ok`;
    expect(row.ok).toBe('still serving');
  });

  it('counts requests at /local/stats', async () => {
    const before = await (await fetch(`${stack.url}/local/stats`)).json();
    await sql`SELECT 1`;
    await fetch(stack.jwksUrl);
    const after = await (await fetch(`${stack.url}/local/stats`)).json();
    expect(after.sql).toBe(before.sql + 1);
    expect(after.jwks).toBe(before.jwks + 1);
    expect(after.auth).toBe(before.auth);
  });
});

describe(`Better Auth issuer (${backendName()})`, () => {
  it('signs up a user and issues an EdDSA JWT verifiable with the JWKS', async () => {
    const { token, userId, email } = await signUpAndGetToken(stack, { name: 'Ada' });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'EdDSA', kid: expect.any(String) });

    const jwks = await (await fetch(stack.jwksUrl)).json();
    expect(jwks.keys.length).toBeGreaterThan(0);
    expect(jwks.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
    expect(jwks.keys[0]).not.toHaveProperty('d');

    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: stack.issuer, audience: stack.audience });
    expect(payload.sub).toBe(userId);
    expect(payload.email).toBe(email);
    expect(payload.name).toBe('Ada');
    expect(payload.exp).toBeGreaterThan(Date.now() / 1000);
    expect(stack.issuer).toBe(stack.url);
  });

  it('signs an existing user in and issues a token for the same subject', async () => {
    const password = 'correct horse battery staple';
    const { userId, email } = await signUpAndGetToken(stack, { password });
    const res = await fetch(`${stack.url}/api/auth/sign-in/email`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: stack.url },
      body: JSON.stringify({ email, password }),
    });
    expect(res.status).toBe(200);
    const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const { token } = await (await fetch(`${stack.url}/api/auth/token`, { headers: { Cookie: cookie } })).json();
    const jwks = await (await fetch(stack.jwksUrl)).json();
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: stack.issuer, audience: stack.audience });
    expect(payload.sub).toBe(userId);

    const wrong = await fetch(`${stack.url}/api/auth/sign-in/email`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: stack.url },
      body: JSON.stringify({ email, password: 'wrong password!' }),
    });
    expect(wrong.status).toBe(401);
  });

  it('refuses a token request without a session', async () => {
    const res = await fetch(`${stack.url}/api/auth/token`);
    expect(res.status).toBe(401);
  });

  it('serves an EC P-256 key and ES256 tokens when started with jwtAlg ES256', async () => {
    const es = await startLocalStack({ jwtAlg: 'ES256' });
    try {
      const jwks = await (await fetch(es.jwksUrl)).json();
      const { token, userId } = await signUpAndGetToken(es);
      const jwksAfter = await (await fetch(es.jwksUrl)).json();
      for (const key of jwksAfter.keys) expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
      expect(jwksAfter.keys.length).toBeGreaterThanOrEqual(jwks.keys.length);
      expect(decodeProtectedHeader(token).alg).toBe('ES256');
      const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwksAfter), {
        issuer: es.issuer,
        audience: es.audience,
        algorithms: ['ES256'],
      });
      expect(payload.sub).toBe(userId);
      expect(jwksAfter.keys.map((k) => k.kid)).toContain(protectedHeader.kid);
    } finally {
      await es.close();
    }
  });
});

/** One request over node:http, which (unlike fetch) sends the Host header as given. */
function rawGet(url, path, host) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: hostname.replace(/^\[|\]$/g, ''), port, path, method: path === '/sql' ? 'POST' : 'GET', headers: host === undefined ? {} : { Host: host } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }));
      },
    );
    req.on('error', reject);
    req.end(path === '/sql' ? JSON.stringify({ query: 'SELECT 1', params: [] }) : undefined);
  });
}

describe('local stack safety (README)', () => {
  it('refuses to listen on a non-loopback address without the explicit opt-in', async () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.10', 'example.com']) {
      const err = await catchError(startStack({ host, port: 0 }));
      expect(err.message).toMatch(/refusing to listen on/);
      expect(err.message).toMatch(/LOCAL_STACK_UNSAFE_EXPOSE=1/);
    }
  });

  it('`npm run stack` with LOCAL_STACK_HOST=0.0.0.0 exits with a clear message', async () => {
    const run = await new Promise((resolve) => {
      execFile(
        process.execPath,
        [join(ROOT, 'local', 'main.mjs')],
        { cwd: ROOT, env: { PATH: process.env.PATH, LOCAL_STACK_HOST: '0.0.0.0', LOCAL_STACK_PORT: '0' }, timeout: 30_000 },
        (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }),
      );
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/refusing to listen on "0\.0\.0\.0".*LOCAL_STACK_UNSAFE_EXPOSE=1/s);
    expect(run.stdout).not.toMatch(/ready/);
  });

  it('with the opt-in listens on all interfaces, warns loudly, and still checks Host', async () => {
    const warnings = [];
    const exposed = await startStack({ host: '0.0.0.0', port: 0, unsafeExpose: true, allowedHosts: ['stack.internal'], warn: (line) => warnings.push(line) });
    try {
      expect(warnings.join('\n')).toMatch(/WARNING.*NON-LOOPBACK address \(0\.0\.0\.0\).*ANY SQL/s);
      const { port } = new URL(exposed.url);
      expect(exposed.url).toBe(`http://127.0.0.1:${port}`);
      const local = exposed.url;
      expect((await rawGet(local, '/local/stats', `127.0.0.1:${port}`)).status).toBe(200);
      expect((await rawGet(local, '/local/stats', `stack.internal:${port}`)).status).toBe(200);
      // The wildcard address is no name a legitimate client uses.
      expect((await rawGet(local, '/local/stats', `0.0.0.0:${port}`)).status).toBe(403);
      expect((await rawGet(local, '/local/stats', `elsewhere.example:${port}`)).status).toBe(403);
    } finally {
      await exposed.close();
    }
  });

  it('refuses requests whose Host is neither a loopback name nor the configured host (DNS rebinding)', async () => {
    const { port } = new URL(stack.url);
    for (const path of ['/sql', '/api/auth/jwks', '/api/auth/token', '/local/stats']) {
      for (const host of [`rebind.attacker.example:${port}`, 'rebind.attacker.example', `127.0.0.1:${Number(port) + 1}`, `127.0.0.1.attacker.example:${port}`]) {
        const res = await rawGet(stack.url, path, host);
        expect(res.status, `${path} with Host ${host}`).toBe(403);
        expect(res.type).toMatch(/^text\/plain/);
        expect(res.body).toMatch(/unexpected Host header/);
      }
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LocalHost:${port}`, `[::1]:${port}`]) {
      expect((await rawGet(stack.url, '/local/stats', host)).status, host).toBe(200);
    }
  });

  it('with a connection string configured, /sql refuses any other one', async () => {
    const expected = `postgresql://worker:${'r'.repeat(20)}@localhost/dev`;
    const guarded = await startStack({ port: 0, migrate: false, connectionString: expected });
    try {
      const send = (conn) =>
        fetch(guarded.sqlUrl, { method: 'POST', headers: { 'Neon-Connection-String': conn }, body: JSON.stringify({ query: 'SELECT 1 AS one', params: [] }) });
      const wrong = await send(`postgresql://worker:${'x'.repeat(20)}@localhost/dev`);
      expect(wrong.status).toBe(400);
      const body = await wrong.json();
      expect(body).toMatchObject({ code: '28P01', message: expect.stringMatching(/does not match/) });
      expect(JSON.stringify(body)).not.toContain('r'.repeat(20));
      const right = await send(expected);
      expect(right.status).toBe(200);
      expect((await right.json()).rows).toEqual([{ one: 1 }]);
    } finally {
      await guarded.close();
    }
  });
});

// The database a stack with a persistent store uses: a PGlite folder, or a scratch
// database on the server (dropped at the end).
async function persistentStore() {
  if (backendName() === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'stack-store-'));
    return { options: { dataDir: join(dir, 'pglite') }, dir, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const scratch = await createOwnedScratchDatabase(process.env.TEST_DATABASE_URL);
  const dir = mkdtempSync(join(tmpdir(), 'stack-store-'));
  return {
    options: { databaseUrl: scratch.databaseUrl, adminDatabaseUrl: scratch.adminUrl },
    dir,
    drop: async () => {
      rmSync(dir, { recursive: true, force: true });
      await scratch.drop();
    },
  };
}

/** The stored signing keys, read as the superuser. */
async function storedKeys(s) {
  const admin = await s.backend.admin();
  try {
    return (await admin.query('SELECT id, "privateKey" FROM jwks ORDER BY "createdAt"', [])).rows.map(([id, privateKey]) => ({ id, privateKey }));
  } finally {
    admin.release();
  }
}

describe(`Better Auth secret (${backendName()})`, () => {
  it('is not the old public constant: stored signing keys do not decrypt with it', async () => {
    await fetch(stack.jwksUrl); // makes sure a key exists
    const keys = await storedKeys(stack);
    expect(keys.length).toBeGreaterThan(0);
    const oldConstant = 'local-dev-only-better-auth-secret--never-use-in-production';
    for (const key of keys) {
      await expect(symmetricDecrypt({ key: oldConstant, data: JSON.parse(key.privateKey) })).rejects.toThrow();
    }
  });

  it('is generated once into the secret file (mode 0600) and reused: the signing key survives a restart', async () => {
    const store = await persistentStore();
    const secretFile = join(store.dir, 'better-auth-secret');
    try {
      const logs = [];
      const first = await startStack({ port: 0, ...store.options, secretFile, log: (line) => logs.push(line) });
      const { token } = await signUpAndGetToken(first);
      const kid = decodeProtectedHeader(token).kid;
      await first.close();
      expect(logs.join('\n')).toMatch(/created a random Better Auth secret/);
      const secret = readFileSync(secretFile, 'utf8').trim();
      expect(secret.length).toBeGreaterThanOrEqual(32);
      expect(statSync(secretFile).mode & 0o777).toBe(0o600);

      const again = [];
      const second = await startStack({ port: 0, ...store.options, secretFile, log: (line) => again.push(line) });
      try {
        const next = await signUpAndGetToken(second);
        expect(decodeProtectedHeader(next.token).kid).toBe(kid);
        expect(again.join('\n')).not.toMatch(/created|replaced/);
        expect(readFileSync(secretFile, 'utf8').trim()).toBe(secret);
      } finally {
        await second.close();
      }
    } finally {
      await store.drop();
    }
  });

  it('refuses a secret file whose secret is too short to be safe', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stack-secret-'));
    try {
      const secretFile = join(dir, 'better-auth-secret');
      writeFileSync(secretFile, 'short\n');
      const err = await catchError(startStack({ port: 0, secretFile }));
      expect(err.message).toMatch(/shorter than 32 characters; delete it/);
      expect(err.message).not.toContain('short\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('replaces signing keys a reused database holds under another secret, and says so', async () => {
    const store = await persistentStore();
    try {
      const first = await startStack({ port: 0, ...store.options, secret: 'first-secret-'.padEnd(40, 'a') });
      const { token: oldToken } = await signUpAndGetToken(first);
      const oldKid = decodeProtectedHeader(oldToken).kid;
      await first.close();

      const logs = [];
      const second = await startStack({ port: 0, ...store.options, secret: 'second-secret-'.padEnd(40, 'b'), log: (line) => logs.push(line) });
      try {
        expect(logs.join('\n')).toMatch(/replaced 1 Better Auth signing key\(s\) that were encrypted with another secret/);
        const keys = await storedKeys(second);
        expect(keys.map((k) => k.id)).not.toContain(oldKid);
        expect(keys).toHaveLength(1);
        // Without the replacement, this token request fails: "Failed to decrypt private key".
        const { token, userId } = await signUpAndGetToken(second);
        const jwks = await (await fetch(second.jwksUrl)).json();
        const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: second.issuer, audience: second.audience });
        expect(payload.sub).toBe(userId);
        expect(jwks.keys.map((k) => k.kid)).not.toContain(oldKid);
      } finally {
        await second.close();
      }
    } finally {
      await store.drop();
    }
  });
});

describe(`the app runs as the non-superuser database owner (${backendName()})`, () => {
  it('/sql runs as the owner role, which is no superuser and lacks BYPASSRLS', async () => {
    const [who] = await sql`SELECT current_user, session_user`;
    expect(who).toEqual({ current_user: OWNER_ROLE, session_user: OWNER_ROLE });
    const [role] = await sql`SELECT rolsuper, rolbypassrls, rolcreaterole, rolcanlogin FROM pg_roles WHERE rolname = current_user`;
    expect(role).toEqual({ rolsuper: false, rolbypassrls: false, rolcreaterole: true, rolcanlogin: true });
    const [db] = await sql`SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = current_database()`;
    expect(db.owner).toBe(OWNER_ROLE);
  });

  it('owns what the migrations and Better Auth created', async () => {
    const rows = await sql`SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`;
    const owners = Object.fromEntries(rows.map((r) => [r.tablename, r.tableowner]));
    for (const table of ['tasks', 'schema_migrations', 'user', 'session', 'account', 'jwks']) {
      expect(owners[table], table).toBe(OWNER_ROLE);
    }
  });

  it('is refused what only a superuser may do, and may create roles (CREATEROLE)', async () => {
    const superRole = await catchError(sql`CREATE ROLE taskapi_should_not_exist SUPERUSER`);
    expect(superRole.code).toBe('42501');
    const bypass = await catchError(sql`ALTER ROLE taskapi_owner BYPASSRLS`);
    expect(bypass.code).toBe('42501');
    // Roles are cluster-wide on a server: create one only inside a rolled-back transaction.
    const conn = await stack.backend.connect();
    try {
      await conn.query('BEGIN', []);
      await conn.query('CREATE ROLE taskapi_probe_role NOLOGIN', []);
      await conn.query('ROLLBACK', []);
    } finally {
      conn.release();
    }
  });

  it('a session user switched by one request does not carry over to the next', async () => {
    // On PGlite the session is authenticated as a superuser, so SQL may switch back;
    // the next request must run as the owner again.
    const escape = backendName() === 'pglite' ? 'SET SESSION AUTHORIZATION postgres' : 'SET ROLE postgres';
    await sql.query(escape).catch(() => {});
    const [who] = await sql`SELECT current_user, session_user`;
    expect(who).toEqual({ current_user: OWNER_ROLE, session_user: OWNER_ROLE });
  });

  it.runIf(backendName() === 'postgres')('the role is created race-free when stacks start at once, and repaired if changed', async () => {
    // A throwaway role of the same kind: dropping the shared one would break stacks
    // of suites running in parallel.
    const role = `taskapi_race_${Date.now().toString(36)}`;
    const clients = [];
    try {
      for (let i = 0; i < 8; i += 1) {
        const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
        await client.connect();
        clients.push(client);
      }
      const outcomes = await Promise.allSettled(clients.map((c) => ensureOwnerRole((text) => c.query(text), role)));
      expect(outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason.message)).toEqual([]);
      await clients[0].query(`ALTER ROLE ${role} SUPERUSER BYPASSRLS`);
      await ensureOwnerRole((text) => clients[0].query(text), role);
      const { rows } = await clients[0].query('SELECT rolsuper, rolbypassrls, rolcreaterole, rolcanlogin FROM pg_roles WHERE rolname = $1', [role]);
      expect(rows).toEqual([{ rolsuper: false, rolbypassrls: false, rolcreaterole: true, rolcanlogin: true }]);
    } finally {
      await clients[0]?.query(`DROP ROLE IF EXISTS ${role}`);
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it('backend.admin() is a superuser session for direct assertions', async () => {
    const admin = await stack.backend.admin();
    try {
      const { rows } = await admin.query('SELECT rolsuper FROM pg_roles WHERE rolname = current_user', []);
      expect(rows).toEqual([['t']]);
    } finally {
      admin.release();
    }
    const [who] = await sql`SELECT current_user`;
    expect(who.current_user).toBe(OWNER_ROLE);
  });
});

describe('hygiene', () => {
  it('never printed the connection string or its password', () => {
    const all = output.join('\n');
    expect(all).not.toContain(SECRET_PASSWORD);
    expect(all).not.toContain(CONN);
  });
});
