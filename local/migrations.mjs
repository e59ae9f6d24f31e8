// Numbered SQL migrations (`migrations/NNNN_name.sql`), applied in order and recorded
// in `schema_migrations`. The runner only needs a way to send a batch transaction, so
// the same code applies them straight to the local backend (at stack start) and over
// Neon's SQL-over-HTTP protocol (`npm run migrate`, to Neon or the local endpoint).
//
// Safe to re-run, and safe when two runners race: each migration is ONE batch whose
// first statement inserts its `schema_migrations` row; the loser of a race blocks on
// that row until the winner commits, then fails with 23505 and skips the migration,
// and everything else in its batch is rolled back with it.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const FILE_PATTERN = /^(\d{4})_([A-Za-z0-9_-]+)\.sql$/;

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version text PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/**
 * @typedef {{ query: string, params?: (string|null)[] }} Query
 * @typedef {(queries: Query[]) => Promise<Array<{ rows: any[][] }>>} BatchExecutor
 *   Runs the queries as one transaction (all or nothing) and returns one result per
 *   query with rows as arrays of text; a Postgres error rejects with its SQLSTATE `code`
 *   (and `constraint`, when there is one).
 */

/** Reads `dir` and returns its migrations in order, each split into statements. */
export function loadMigrations(dir) {
  const migrations = [];
  const seen = new Map();
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.sql')) continue;
    const match = FILE_PATTERN.exec(file);
    if (!match) throw new Error(`migration file ${file} is not named NNNN_name.sql`);
    const [, version, name] = match;
    if (seen.has(version)) throw new Error(`migrations ${seen.get(version)} and ${file} share version ${version}`);
    seen.set(version, file);
    const statements = splitSqlStatements(readFileSync(join(dir, file), 'utf8'));
    for (const s of statements) {
      // Each migration already is one transaction; its own BEGIN/COMMIT would end
      // that transaction early and break the all-or-nothing guarantee.
      if (/^\s*(BEGIN|COMMIT|ROLLBACK|END|START\s+TRANSACTION|ABORT)\b/i.test(s)) {
        throw new Error(`migration ${file} must not contain transaction control (${s.split('\n')[0]}); each migration runs in one transaction`);
      }
    }
    migrations.push({ version, name, file, statements });
  }
  return migrations;
}

/**
 * Applies what is not yet recorded. Returns `{ applied: [file…], skipped: [file…] }`
 * (skipped: applied meanwhile by a concurrent runner).
 * @param {{ execute: BatchExecutor, migrations: ReturnType<typeof loadMigrations>, log?: (line: string) => void }} options
 */
export async function applyMigrations({ execute, migrations, log = () => {} }) {
  try {
    await execute([{ query: CREATE_TABLE, params: [] }]);
  } catch (err) {
    // Two runners creating the table at once: the loser trips over the catalog's
    // unique indexes (23505) or finds it created (42P07). Either way it now exists.
    if (err?.code !== '23505' && err?.code !== '42P07') throw err;
  }

  const [done] = await execute([{ query: 'SELECT version FROM schema_migrations', params: [] }]);
  const appliedVersions = new Set(done.rows.map((row) => row[0]));

  const applied = [];
  const skipped = [];
  for (const m of migrations) {
    if (appliedVersions.has(m.version)) continue;
    try {
      await execute([
        { query: 'INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', params: [m.version, m.name] },
        ...m.statements.map((query) => ({ query, params: [] })),
      ]);
      applied.push(m.file);
      log(`applied ${m.file}`);
    } catch (err) {
      if (err?.code === '23505' && err?.constraint === 'schema_migrations_pkey') {
        skipped.push(m.file);
        log(`skipped ${m.file} (applied concurrently by another runner)`);
        continue;
      }
      throw Object.assign(err instanceof Error ? err : new Error(String(err)), { migration: m.file });
    }
  }
  return { applied, skipped };
}

/** A BatchExecutor on a backend from `openBackend()` (no HTTP in between). */
export function backendExecutor(backend) {
  return async (queries) => {
    const conn = await backend.connect();
    try {
      await conn.query('BEGIN', []);
      const results = [];
      try {
        for (const q of queries) results.push(await conn.query(q.query, q.params ?? []));
        await conn.query('COMMIT', []);
      } catch (err) {
        await conn.query('ROLLBACK', []).catch(() => {});
        throw err;
      }
      return results;
    } finally {
      conn.release();
    }
  };
}

// ------------------------------------------------------------------ splitting

/**
 * Splits a script into statements at top-level semicolons. SQL-over-HTTP runs one
 * statement per query, so the split must be exact: semicolons inside '…' strings
 * (with '' and E'\'' escapes), "…" identifiers, $tag$…$tag$ bodies, -- comments and
 * nested /* *\/ comments do not end a statement. Comments before a statement and
 * statements made only of comments are dropped; statements come back trimmed,
 * without their semicolon.
 */
export function splitSqlStatements(sql) {
  const statements = [];
  let i = 0;
  let codeStart = -1; // first character that is neither whitespace nor comment
  const n = sql.length;
  const markCode = (at) => {
    if (codeStart === -1) codeStart = at;
  };

  const push = (end) => {
    if (codeStart !== -1) statements.push(sql.slice(codeStart, end).trim());
    codeStart = -1;
  };

  while (i < n) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const eol = sql.indexOf('\n', i);
      i = eol === -1 ? n : eol + 1;
    } else if (c === '/' && next === '*') {
      // Postgres block comments nest.
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth += 1;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth -= 1;
          i += 2;
        } else {
          i += 1;
        }
      }
      if (depth > 0) throw new Error('unterminated /* comment in SQL');
    } else if (c === "'") {
      markCode(i);
      // E'…' strings allow backslash escapes; standard strings only ''.
      const escapes = i > 0 && /[eE]/.test(sql[i - 1]) && !/[A-Za-z0-9_$]/.test(sql[i - 2] ?? '');
      i = skipQuoted(sql, i, "'", escapes);
    } else if (c === '"') {
      markCode(i);
      i = skipQuoted(sql, i, '"', false);
    } else if (c === '$') {
      markCode(i);
      const tag = dollarTagAt(sql, i);
      if (tag) {
        const close = sql.indexOf(tag, i + tag.length);
        if (close === -1) throw new Error(`unterminated dollar-quoted string ${tag}`);
        i = close + tag.length;
      } else {
        i += 1;
      }
    } else if (c === ';') {
      push(i);
      i += 1;
    } else {
      if (!/\s/.test(c)) markCode(i);
      i += 1;
    }
  }
  push(n);
  return statements;
}

function skipQuoted(sql, i, quote, backslashEscapes) {
  let j = i + 1;
  while (j < sql.length) {
    const c = sql[j];
    if (backslashEscapes && c === '\\') {
      j += 2;
    } else if (c === quote) {
      if (sql[j + 1] === quote) j += 2; // doubled quote inside the literal
      else return j + 1;
    } else {
      j += 1;
    }
  }
  throw new Error(`unterminated ${quote === "'" ? 'string literal' : 'quoted identifier'} in SQL`);
}

/** `$$` or `$tag$` starting at i, unless the `$` is part of an identifier or a `$1`
 *  parameter (a dollar quote cannot follow an identifier character). */
function dollarTagAt(sql, i) {
  if (i > 0 && /[A-Za-z0-9_$]/.test(sql[i - 1])) return null;
  const m = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 256));
  return m ? m[0] : null;
}
