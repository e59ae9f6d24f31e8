// The local stack against the REAL Neon driver (@neondatabase/serverless pointed at it
// with neonConfig.fetchEndpoint) and a REAL JWT verifier (jose): proof that it speaks
// Neon's SQL-over-HTTP protocol and issues Better Auth tokens the way production does.
// Runs on PGlite by default, on PostgreSQL with TEST_BACKEND=postgres.

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { neon, neonConfig, NeonDbError } from '@neondatabase/serverless';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { backendName, catchError, readReply, signUpAndGetToken, sleep, startLocalStack } from './harness.mjs';

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

    const check = await catchError(sql`INSERT INTO tasks (user_id, title) VALUES ('u1', ${'x'.repeat(201)})`);
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

describe('hygiene', () => {
  it('never printed the connection string or its password', () => {
    const all = output.join('\n');
    expect(all).not.toContain(SECRET_PASSWORD);
    expect(all).not.toContain(CONN);
  });
});
