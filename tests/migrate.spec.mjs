// Migrations: the statement splitter, `npm run migrate` over SQL-over-HTTP against the
// local endpoint (twice: the second run is a no-op), the resulting `tasks` schema, and
// two runners racing on the same database.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { neon, neonConfig, NeonDbError } from '@neondatabase/serverless';
import { applyMigrations, loadMigrations, splitSqlStatements } from '../local/migrations.mjs';
import { httpBatchExecutor, sqlEndpointFor } from '../local/neon-http.mjs';
import { OWNER_ROLE } from '../local/owner.mjs';
import { backendName, catchError, startLocalStack } from './harness.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PASSWORD = 'migrate-pw-must-not-leak';
const CONN = `postgresql://owner:${PASSWORD}@ep-migrate-test.eu-central-1.aws.neon.tech/neondb?sslmode=require`;

function runMigrate(env) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'scripts', 'migrate.mjs')],
      { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr, output: stdout + stderr }),
    );
  });
}

describe('splitSqlStatements', () => {
  it('splits at top-level semicolons only', () => {
    const script = `
      -- a comment; with a semicolon
      CREATE TABLE a (x text DEFAULT 'semi;colon', "odd;name" int);
      /* block; /* nested; */ still comment; */
      INSERT INTO a VALUES ('it''s; fine', 1);
      SELECT E'esc\\'aped; still string';
      CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $fn$ BEGIN RETURN 1; END; $fn$;
      DO $$ BEGIN PERFORM 1; END $$;
      SELECT $1::text, a$b, "x$$y" /* inner; comment */ FROM t;
      ;  -- empty statement
      -- trailing comment only
    `;
    expect(splitSqlStatements(script)).toEqual([
      `CREATE TABLE a (x text DEFAULT 'semi;colon', "odd;name" int)`,
      `INSERT INTO a VALUES ('it''s; fine', 1)`,
      `SELECT E'esc\\'aped; still string'`,
      'CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $fn$ BEGIN RETURN 1; END; $fn$',
      'DO $$ BEGIN PERFORM 1; END $$',
      'SELECT $1::text, a$b, "x$$y" /* inner; comment */ FROM t',
    ]);
  });

  it('refuses unterminated strings instead of guessing', () => {
    expect(() => splitSqlStatements("SELECT 'oops; SELECT 1")).toThrow(/unterminated/);
    expect(() => splitSqlStatements('SELECT $x$ never closed')).toThrow(/unterminated/);
  });

  it('finds the project migrations, in order, as statements', () => {
    const migrations = loadMigrations(join(ROOT, 'migrations'));
    expect(migrations[0]).toMatchObject({ version: '0001', name: 'create_tasks', file: '0001_create_tasks.sql' });
    expect(migrations[0].statements).toHaveLength(5);
    expect(migrations.map((m) => m.version)).toEqual([...migrations.map((m) => m.version)].sort());
  });

  it('refuses transaction control inside a migration', () => {
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    try {
      writeFileSync(join(dir, '0001_bad.sql'), 'BEGIN;\nCREATE TABLE x (a int);\nCOMMIT;\n');
      expect(() => loadMigrations(dir)).toThrow(/transaction control/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the SQL endpoint derived from a connection string', () => {
  it('matches what Neon’s driver derives', () => {
    expect(sqlEndpointFor(CONN)).toBe('https://api.eu-central-1.aws.neon.tech/sql');
    expect(sqlEndpointFor('postgres://u:p@ep-a-1.us-east-2.aws.neon.tech:5432/db')).toBe('https://api.us-east-2.aws.neon.tech/sql');
  });

  it('never quotes the connection string in its errors', () => {
    expect(() => sqlEndpointFor(`mysql://u:${PASSWORD}@h/db`)).toThrow(/postgres/);
    try {
      sqlEndpointFor(`not a url ${PASSWORD}`);
    } catch (err) {
      expect(err.message).not.toContain(PASSWORD);
    }
  });
});

describe(`npm run migrate against the local endpoint (${backendName()})`, () => {
  let stack;
  let sql;

  beforeAll(async () => {
    stack = await startLocalStack({ migrate: false });
    neonConfig.fetchEndpoint = stack.sqlUrl;
    sql = neon(CONN);
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('applies the migrations once; a second run applies nothing', async () => {
    const first = await runMigrate({ DATABASE_URL: CONN, NEON_SQL_ENDPOINT: stack.sqlUrl });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/applied 0001_create_tasks\.sql/);

    const second = await runMigrate({ DATABASE_URL: CONN, NEON_SQL_ENDPOINT: stack.sqlUrl });
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/nothing to apply/);
    expect(second.stdout).not.toMatch(/applied 0001/);

    for (const run of [first, second]) {
      expect(run.output).not.toContain(PASSWORD);
      expect(run.output).not.toContain(CONN);
    }
    const recorded = await sql`SELECT version, name FROM schema_migrations ORDER BY version`;
    expect(recorded[0]).toEqual({ version: '0001', name: 'create_tasks' });

    // Applied as Neon would: by the database owner, which is no superuser.
    const [owner] = await sql`
      SELECT t.tableowner, r.rolsuper, r.rolbypassrls FROM pg_tables t JOIN pg_roles r ON r.rolname = t.tableowner
      WHERE t.schemaname = 'public' AND t.tablename = 'tasks'`;
    expect(owner).toEqual({ tableowner: OWNER_ROLE, rolsuper: false, rolbypassrls: false });
  });

  /** Runs `query` as the worker does: as the restricted role, for `userId` (row-level
   *  security admits nothing else). Returns the query's rows. */
  const asUser = async (userId, query) =>
    (await sql.transaction([sql`SELECT set_config('app.user_id', ${userId}, true), set_config('role', 'task_api_user', true)`, query]))[1];

  it('creates tasks with the expected columns, defaults and indexes', async () => {
    const columns = await sql`
      SELECT column_name, data_type, is_nullable, is_identity, identity_generation
      FROM information_schema.columns WHERE table_name = 'tasks' ORDER BY ordinal_position`;
    expect(columns.map((c) => [c.column_name, c.data_type, c.is_nullable])).toEqual([
      ['id', 'bigint', 'NO'],
      ['user_id', 'text', 'NO'],
      ['title', 'text', 'NO'],
      ['description', 'text', 'YES'],
      ['completed', 'boolean', 'NO'],
      ['created_at', 'timestamp with time zone', 'NO'],
      ['updated_at', 'timestamp with time zone', 'NO'],
      ['version', 'integer', 'NO'],
    ]);
    expect(columns[0]).toMatchObject({ is_identity: 'YES', identity_generation: 'ALWAYS' });

    const indexes = await sql`SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'tasks' ORDER BY indexname`;
    const defs = indexes.map((i) => i.indexdef.replace(/^.* USING btree /, ''));
    expect(defs).toEqual(
      expect.arrayContaining([
        '(id)',
        '(user_id, created_at DESC, id DESC)',
        '(user_id, updated_at DESC, id DESC)',
        '(user_id, title, id)',
        '(user_id, completed, created_at DESC, id DESC)',
      ]),
    );

    const [task] = await asUser('user-1', sql`INSERT INTO tasks (user_id, title) VALUES ('user-1', 'Buy milk') RETURNING *`);
    expect(task).toMatchObject({ user_id: 'user-1', title: 'Buy milk', description: null, completed: false, version: 1 });
    expect(task.created_at).toBeInstanceOf(Date);
    expect(task.updated_at).toEqual(task.created_at);
  });

  it('enforces the length rules with named constraints', async () => {
    const long = 'u'.repeat(256);
    const cases = [
      ['u', sql`INSERT INTO tasks (user_id, title) VALUES ('u', ${'t'.repeat(201)})`, 'tasks_title_length'],
      ['u', sql`INSERT INTO tasks (user_id, title) VALUES ('u', '')`, 'tasks_title_length'],
      ['u', sql`INSERT INTO tasks (user_id, title, description) VALUES ('u', 't', ${'d'.repeat(1001)})`, 'tasks_description_length'],
      ['', sql`INSERT INTO tasks (user_id, title) VALUES ('', 't')`, 'tasks_user_id_length'],
      [long, sql`INSERT INTO tasks (user_id, title) VALUES (${long}, 't')`, 'tasks_user_id_length'],
    ];
    for (const [userId, query, constraint] of cases) {
      const err = await catchError(asUser(userId, query));
      expect(err).toBeInstanceOf(NeonDbError);
      expect(err.code).toBe('23514');
      expect(err.constraint).toBe(constraint);
    }
    // The limits are inclusive and count characters, not bytes.
    await asUser('u', sql`INSERT INTO tasks (user_id, title, description) VALUES ('u', ${'é'.repeat(200)}, ${'🌍'.repeat(1000)})`);

    const idErr = await catchError(asUser('u', sql`INSERT INTO tasks (id, user_id, title) VALUES (99, 'u', 't')`));
    expect(idErr.code).toBe('428C9'); // GENERATED ALWAYS: ids are never supplied by clients
  });

  it('is safe when two runners race, and all-or-nothing per migration', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    try {
      writeFileSync(join(dir, '9001_race_one.sql'), 'CREATE TABLE race_one (x int);\nSELECT pg_sleep(0.2);\n');
      writeFileSync(join(dir, '9002_race_two.sql'), 'CREATE TABLE race_two (x int);\n');
      const migrations = loadMigrations(dir);
      const execute = httpBatchExecutor({ endpoint: stack.sqlUrl, connectionString: CONN });
      const [a, b] = await Promise.all([applyMigrations({ execute, migrations }), applyMigrations({ execute, migrations })]);
      for (const file of ['9001_race_one.sql', '9002_race_two.sql']) {
        const appliedBy = [a, b].filter((r) => r.applied.includes(file)).length;
        expect(appliedBy).toBe(1);
      }
      const recorded = await sql`SELECT version FROM schema_migrations WHERE version LIKE '900%' ORDER BY version`;
      expect(recorded.map((r) => r.version)).toEqual(['9001', '9002']);

      writeFileSync(join(dir, '9003_broken.sql'), 'CREATE TABLE half_done (x int);\nSELECT * FROM no_such_table;\n');
      const err = await catchError(applyMigrations({ execute, migrations: loadMigrations(dir) }));
      expect(err.code).toBe('42P01');
      expect(err.migration).toBe('9003_broken.sql');
      const [left] = await sql`SELECT to_regclass('half_done') AS t, (SELECT count(*)::int FROM schema_migrations WHERE version = '9003') AS n`;
      expect(left).toEqual({ t: null, n: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails clearly, without printing the connection string, when misconfigured', async () => {
    const missing = await runMigrate({});
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/DATABASE_URL is required/);

    const unreachable = await runMigrate({ DATABASE_URL: CONN, NEON_SQL_ENDPOINT: 'http://127.0.0.1:9/sql' });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/cannot reach the SQL endpoint/);
    expect(unreachable.output).not.toContain(PASSWORD);

    const badUrl = await runMigrate({ DATABASE_URL: `mysql://root:${PASSWORD}@db/x` });
    expect(badUrl.code).toBe(1);
    expect(badUrl.output).not.toContain(PASSWORD);
  });
});
