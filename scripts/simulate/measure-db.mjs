// Measures what the scaling model needs from PostgreSQL itself: the list statements'
// cost under the row-level-security prefix, table and index sizes, and the
// idempotency purge, at 1k / 10k / 100k users × 100 tasks. Writes
// scripts/simulate/measured/postgres.json, which `npm run simulate` reads.
//
//   npm run simulate -- --measure-db          (about 5–10 minutes on 2 cores)
//   SIM_DB_URL=postgresql://postgres@127.0.0.1:5432/postgres   server to use
//   SIM_DB_USERS=1000,10000                    sizes (default 1000,10000,100000)
//
// It creates a scratch database with a random name, applies migrations/*.sql in
// order (they create the role task_api_user, so it runs as a superuser), seeds with
// generate_series, and drops the database at the end, also on failure.
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import pg from 'pg';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const OUT = join(here, 'measured', 'postgres.json');
const RLS_PREFIX =
  "SELECT set_config('app.user_id', $1, true), set_config('role', 'task_api_user', true)";
const TASKS_PER_USER = 100;
const REPEATS = 25;

/** The list statements exactly as the worker sends them (src/tasks/sql.rs). */
export function listStatements() {
  const src = readFileSync(join(root, 'src', 'tasks', 'sql.rs'), 'utf8');
  const out = {};
  for (const name of ['LIST_CREATED_DESC', 'LIST_TITLE_ASC', 'LIST_UPDATED_DESC']) {
    const m = src.match(new RegExp(`pub const ${name}: &str =\\s*((?:"(?:[^"\\\\]|\\\\[\\s\\S])*"\\s*)+);`));
    if (!m) throw new Error(`${name} not found in src/tasks/sql.rs`);
    // Rust string continuation: a backslash at the end of a line swallows the newline
    // and the next line's leading whitespace.
    const parts = [...m[1].matchAll(/"((?:[^"\\]|\\[\s\S])*)"/g)].map((p) => p[1]);
    out[name] = parts.join('').replace(/\\\n\s*/g, '').replace(/\\"/g, '"');
  }
  return out;
}

const PURGE =
  "DELETE FROM idempotency_keys WHERE user_id = $1 AND created_at < now() - interval '24 hours'";
/** Keys each user holds: creates with a key over the last 48 h (2 per day assumed). */
const KEYS_PER_USER = 4;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
}
function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

async function seed(db, from, to) {
  // Titles, descriptions and timestamps vary per row so the planner sees realistic
  // statistics; 1 in 3 tasks is completed, 1 in 2 has a description. The outer loop
  // is the task number, so one user's rows are spread over the heap as they are when
  // many users create tasks over time (worst case for heap locality, as in production).
  await db.query(
    `INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at)
     SELECT 'sim-user-' || u,
            'task ' || t || ' of user ' || u || CASE WHEN t % 10 = 0 THEN ' buy milk' ELSE '' END,
            CASE WHEN t % 2 = 0 THEN 'details for task ' || t || ', written by a person who plans ahead' END,
            t % 3 = 0,
            now() - make_interval(mins => (u % 997) + t * 90),
            now() - make_interval(mins => (u % 991) + t * 45)
       FROM generate_series(1, ${TASKS_PER_USER}) AS t, generate_series($1::int, $2::int) AS u`,
    [from, to],
  );
  await db.query(
    `INSERT INTO idempotency_keys (user_id, key, request_hash, task_id, title, description, completed,
                                   task_created_at, task_updated_at, created_at)
     SELECT 'sim-user-' || u, 'key-' || u || '-' || k, encode(sha256(convert_to(u || '/' || k, 'UTF8')), 'hex'),
            k, 'task title ' || k, NULL, false, now(), now(), now() - make_interval(hours => k * 12)
       FROM generate_series($1::int, $2::int) AS u, generate_series(1, ${KEYS_PER_USER}) AS k`,
    [from, to],
  );
}

/** EXPLAIN (ANALYZE, BUFFERS) of one statement behind the RLS prefix, in a transaction. */
async function explain(db, user, sql, params, { rollback = false } = {}) {
  await db.query('BEGIN');
  try {
    await db.query(RLS_PREFIX, [user]);
    const { rows } = await db.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`, params);
    return rows[0]['QUERY PLAN'][0];
  } finally {
    await db.query(rollback ? 'ROLLBACK' : 'COMMIT');
  }
}

function planSummary(plan) {
  const nodes = [];
  const walk = (n) => {
    nodes.push(n['Index Name'] ? `${n['Node Type']} using ${n['Index Name']}` : n['Node Type']);
    for (const c of n.Plans ?? []) walk(c);
  };
  walk(plan.Plan);
  return {
    nodes,
    rows: plan.Plan['Actual Rows'],
    shared_hit: plan.Plan['Shared Hit Blocks'] ?? 0,
    shared_read: plan.Plan['Shared Read Blocks'] ?? 0,
  };
}

async function measureStatement(db, users, sql, paramsFor, opts) {
  const exec = [];
  const planning = [];
  let summary;
  for (let i = 0; i < REPEATS; i++) {
    const user = users[i % users.length];
    const plan = await explain(db, user, sql, paramsFor(user), opts);
    exec.push(plan['Execution Time']);
    planning.push(plan['Planning Time']);
    if (i === REPEATS - 1) summary = planSummary(plan);
  }
  return {
    execution_ms_p50: +median(exec).toFixed(4),
    execution_ms_p95: +pct(exec, 95).toFixed(4),
    planning_ms_p50: +median(planning).toFixed(4),
    ...summary,
  };
}

/** Client-side time of one transaction over loopback, with and without the prefix. */
async function transactionTimes(db, users, sql, paramsFor) {
  const out = {};
  for (const withPrefix of [true, false]) {
    const times = [];
    for (let i = 0; i < 200; i++) {
      const user = users[i % users.length];
      const t0 = process.hrtime.bigint();
      await db.query('BEGIN');
      if (withPrefix) await db.query(RLS_PREFIX, [user]);
      await db.query(sql, paramsFor(user));
      await db.query('COMMIT');
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    out[withPrefix ? 'with_rls_prefix_ms_p50' : 'superuser_no_prefix_ms_p50'] = +median(times).toFixed(4);
  }
  return out;
}

async function sizes(db) {
  const { rows } = await db.query(
    `SELECT c.relname AS name, pg_relation_size(c.oid) AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')
        AND (c.relname LIKE 'tasks%' OR c.relname LIKE 'idempotency%')
      ORDER BY 1`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.bytes)]));
}

export async function main() {
  const base = process.env.SIM_DB_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const targets = (process.env.SIM_DB_USERS ?? '1000,10000,100000').split(',').map(Number);
  const name = `sim_scale_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  const server = (await admin.query('SHOW server_version')).rows[0].server_version;
  const settings = Object.fromEntries(
    (await admin.query(
      "SELECT name, setting, unit FROM pg_settings WHERE name IN ('shared_buffers','work_mem','effective_cache_size','random_page_cost')",
    )).rows.map((r) => [r.name, r.unit ? `${r.setting} ${r.unit}` : r.setting]),
  );
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  const db = new pg.Client({ connectionString: url.toString() });
  const result = {
    what: 'EXPLAIN (ANALYZE, BUFFERS) of the list statements behind the RLS prefix, table sizes',
    measured_at: new Date().toISOString(),
    machine: `${cpus().length}-core ${cpus()[0]?.model ?? 'cpu'}`,
    server: `PostgreSQL ${server}`,
    settings,
    tasks_per_user: TASKS_PER_USER,
    idempotency: {
      note: 'the shape of migrations/0003; 4 keys per user, 2 of them older than 24 h',
      keys_per_user: KEYS_PER_USER,
      response_bytes: 420,
    },
    repeats: REPEATS,
    levels: [],
  };
  try {
    await db.connect();
    const dir = join(root, 'migrations');
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
      await db.query(readFileSync(join(dir, f), 'utf8'));
    }
    // migrations/0003 created idempotency_keys in the product's own shape.
    const stmts = listStatements();
    let seeded = 0;
    for (const target of targets) {
      const t0 = Date.now();
      await seed(db, seeded + 1, target);
      seeded = target;
      await db.query('VACUUM ANALYZE tasks');
      await db.query('VACUUM ANALYZE idempotency_keys');
      const seedSeconds = (Date.now() - t0) / 1000;
      // Users spread over the key space, all present at every level.
      const users = [1, 7, 333, 500, 999].map((u) => `sim-user-${u}`);
      const lastPage = await db.query(
        "SELECT created_at::text AS v, id FROM tasks WHERE user_id = 'sim-user-7' ORDER BY created_at DESC, id DESC OFFSET 49 LIMIT 1",
      );
      const cursor = lastPage.rows[0];
      const params = (completed, q, after, limit = 51) => (u) => [u, completed, q, after?.v ?? null, after?.id ?? null, limit];
      const cases = {
        'default (created_at desc, limit 50)': [stmts.LIST_CREATED_DESC, params(null, null)],
        'status=pending': [stmts.LIST_CREATED_DESC, params(false, null)],
        'q=milk (ILIKE on title/description)': [stmts.LIST_CREATED_DESC, params(null, '%milk%')],
        'second page (cursor)': [stmts.LIST_CREATED_DESC, params(null, null, cursor)],
        'sort=title asc': [stmts.LIST_TITLE_ASC, params(null, null)],
        'sort=updated_at desc': [stmts.LIST_UPDATED_DESC, params(null, null)],
      };
      const level = {
        users: target,
        rows: Number((await db.query('SELECT count(*) FROM tasks')).rows[0].count),
        seed_seconds: +seedSeconds.toFixed(1),
        bytes: await sizes(db),
        list: {},
      };
      for (const [label, [sql, p]] of Object.entries(cases)) {
        level.list[label] = await measureStatement(db, users, sql, p);
      }
      level.purge = await measureStatement(db, users, PURGE, (u) => [u], { rollback: true });
      level.transaction = await transactionTimes(db, users, stmts.LIST_CREATED_DESC, params(null, null));
      result.levels.push(level);
      console.log(
        `${target} users: ${level.rows} rows seeded in ${level.seed_seconds}s; list p50 ${level.list['default (created_at desc, limit 50)'].execution_ms_p50} ms`,
      );
    }
  } finally {
    await db.end().catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${OUT}`);
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}
