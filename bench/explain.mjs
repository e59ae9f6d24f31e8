// Shows that the indexes still serve every list query under row-level security:
// EXPLAIN (ANALYZE, BUFFERS) of the six list statements (src/tasks/sql.rs), with and
// without a cursor, run exactly as the worker runs them — behind the per-transaction
// prefix, as the restricted role — on a PostgreSQL server with 300 000 rows across
// 3 000 users.
//
//   node bench/explain.mjs                     (about a minute on 2 cores)
//   EXPLAIN_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres   the server
//
// A scratch database with a random name is created, migrated, seeded and dropped.

import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SERVER = process.env.EXPLAIN_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';
const USERS = 3000;
const TASKS_PER_USER = 100;
const PREFIX = "SELECT set_config('app.user_id', $1, true), set_config('role', 'task_api_user', true)";
const NAMES = ['LIST_CREATED_DESC', 'LIST_CREATED_ASC', 'LIST_UPDATED_DESC', 'LIST_UPDATED_ASC', 'LIST_TITLE_DESC', 'LIST_TITLE_ASC'];

/** The list statements as the worker sends them, read from src/tasks/sql.rs. */
function listStatements() {
  const src = readFileSync(join(ROOT, 'src', 'tasks', 'sql.rs'), 'utf8');
  return Object.fromEntries(
    NAMES.map((name) => {
      const m = src.match(new RegExp(`pub const ${name}: &str =\\s*"((?:[^"\\\\]|\\\\[\\s\\S])*)";`));
      if (!m) throw new Error(`${name} not found in src/tasks/sql.rs`);
      return [name, m[1].replace(/\\\n\s*/g, '').replace(/\\"/g, '"')];
    }),
  );
}

async function run() {
  const name = `taskapi_explain_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: SERVER });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(SERVER);
  url.pathname = `/${name}`;
  const db = new pg.Client({ connectionString: url.toString() });
  try {
    await db.connect();
    for (const file of readdirSync(join(ROOT, 'migrations')).filter((f) => f.endsWith('.sql')).sort()) {
      await db.query(readFileSync(join(ROOT, 'migrations', file), 'utf8'));
    }
    await db.query(
      `INSERT INTO tasks (user_id, title, completed, created_at, updated_at)
       SELECT 'user-' || u, 'task ' || md5(u::text || '/' || t), t % 3 = 0,
              now() - make_interval(secs => u * 1000 + t), now() - make_interval(secs => t * 7 + u)
       FROM generate_series(1, ${USERS}) u, generate_series(1, ${TASKS_PER_USER}) t`,
    );
    await db.query('ANALYZE tasks');
    const user = 'user-1234';
    const statements = listStatements();
    for (const [label, sql] of Object.entries(statements)) {
      // A cursor from the middle of the user's rows, in the statement's own sort value.
      const column = label.includes('TITLE') ? 'title' : label.includes('UPDATED') ? 'updated_at' : 'created_at';
      const { rows: [mid] } = await db.query(
        `SELECT ${column}::text AS value, id::text AS id FROM tasks WHERE user_id = $1 ORDER BY ${column}, id OFFSET 50 LIMIT 1`,
        [user],
      );
      for (const [variant, after] of [['no cursor', [null, null]], ['cursor', [mid.value, mid.id]]]) {
        await db.query('BEGIN');
        try {
          await db.query(PREFIX, [user]);
          const { rows } = await db.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`, [user, null, null, ...after, 51]);
          console.log(`\n== ${label}, ${variant}`);
          for (const { 'QUERY PLAN': line } of rows) console.log(line);
        } finally {
          await db.query('ROLLBACK');
        }
      }
    }
  } finally {
    await db.end().catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

await run();
