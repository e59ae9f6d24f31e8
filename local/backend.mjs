// The database behind the local stack: a real PostgreSQL server (via `pg`) when a
// connection string is given, else an embedded PGlite. Two views of it are offered:
//
//  * `connect()` — a session answering with *raw text* (what Neon's SQL-over-HTTP
//    endpoint relays with `Neon-Raw-Text-Output: true`): values exactly as Postgres
//    printed them, params passed through as the exact text the client sent.
//  * `authPool()` — a `pg.Pool`-shaped object with ordinary JS parsing, which Better
//    Auth's Kysely adapter recognises by its `connect` method (it wraps it in
//    Kysely's PostgresDialect).
//
//  * `admin()` — a session as a superuser, for tests that assert on the database
//    directly (bypassing row-level security); same interface as `connect()`.
//
// Every session runs with TimeZone=UTC: that is Neon's server default, and the
// worker's decoder expects timestamptz text to end in `+00`.
//
// Like on Neon, the app's sessions are not a superuser's: on a server the URL names the
// owner role (see owner.mjs), and PGlite's single superuser session is switched to
// that role with SET SESSION AUTHORIZATION whenever the app takes it.

import { mkdirSync } from 'node:fs';
import pg from 'pg';
import { PGlite, protocol } from '@electric-sql/pglite';
import { ensureOwnerRole, OWNER_ROLE, PGLITE_OWNER_SETUP } from './owner.mjs';

/** A Postgres error (it carries a SQLSTATE `code`), as opposed to a failure of the
 *  backend itself (lost connection, crashed engine). Only these may be shown to a
 *  SQL-over-HTTP client as a 400, the way Neon does. */
export class PostgresError extends Error {
  constructor(source) {
    super(source.message);
    this.name = 'PostgresError';
    for (const key of PG_ERROR_FIELDS) {
      if (source[key] !== undefined && source[key] !== null) this[key] = source[key];
    }
  }
}

/** The fields of an ErrorResponse, named as `pg` and Neon's driver name them. */
export const PG_ERROR_FIELDS = [
  'severity', 'code', 'detail', 'hint', 'position', 'internalPosition', 'internalQuery',
  'where', 'schema', 'table', 'column', 'dataType', 'constraint', 'file', 'line', 'routine',
];

function isPostgresError(err) {
  return err && typeof err.code === 'string' && /^[0-9A-Z]{5}$/.test(err.code) && 'severity' in err;
}

/** Waiting longer than this for the PGlite session means something holds it and
 *  never lets go; failing beats hanging every later request. */
const SESSION_WAIT_MS = 30_000;

/**
 * @param {{ databaseUrl?: string, dataDir?: string, adminDatabaseUrl?: string }} options
 *   databaseUrl: a PostgreSQL server to use; dataDir: PGlite's folder when no server
 *   (undefined → in-memory, gone on close); adminDatabaseUrl: a superuser's URL of the
 *   same database, used only by `admin()` (without it `admin()` uses databaseUrl).
 */
export async function openBackend({ databaseUrl, dataDir, adminDatabaseUrl } = {}) {
  return databaseUrl ? openPostgres(databaseUrl, adminDatabaseUrl) : openPglite(dataDir);
}

// ---------------------------------------------------------------- PostgreSQL

/** pg lets a connection string's own parameters override the config object, so the
 *  time zone goes into the string itself (keeping any `options` already there). */
function withUtcSessions(databaseUrl) {
  let url;
  try {
    url = new URL(databaseUrl);
  } catch {
    // URL's own error would carry the input, password included.
    throw new Error('DATABASE_URL is not a valid postgresql:// URL');
  }
  const existing = url.searchParams.get('options');
  url.searchParams.set('options', [existing, '-c TimeZone=UTC'].filter(Boolean).join(' '));
  return url.toString();
}

const rawTypes = { getTypeParser: () => (value) => value };

function newPool(databaseUrl, max) {
  const pool = new pg.Pool({ connectionString: withUtcSessions(databaseUrl), max });
  // An idle client whose server connection dies (server restart, database dropped)
  // emits 'error' on the pool; unhandled, that would kill the process.
  pool.on('error', (err) => console.error(`[local-stack] idle database connection lost: ${err.message}`));
  return pool;
}

async function openPostgres(databaseUrl, adminDatabaseUrl) {
  const pool = newPool(databaseUrl, 10);
  let adminPool = null; // opened on first use: only tests ask for it

  // Fail at start, not on the first request, when the server is unreachable.
  try {
    const probe = await pool.connect();
    probe.release();
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }

  async function session(from) {
    const client = await from.connect();
    let broken = false;
    let released = false;
    return {
      async query(text, params = []) {
        try {
          // queryMode 'extended' makes pg use Parse/Bind/Execute even without params,
          // so a string holding two statements is refused here just as Neon (and the
          // PGlite path) refuse it, instead of running both via the simple protocol.
          const result = await client.query({
            text, values: params, rowMode: 'array', types: rawTypes, queryMode: 'extended',
          });
          return {
            command: result.command ?? '',
            rowCount: result.rowCount ?? null,
            fields: result.fields.map(fieldOf),
            rows: result.rows,
          };
        } catch (err) {
          if (isPostgresError(err)) throw new PostgresError(err);
          broken = true;
          throw err;
        }
      },
      release() {
        if (released) return;
        released = true;
        // A request that left a transaction open must not hand it to the next one.
        if (!broken && client.getTransactionStatus() !== 'I') {
          client.query('ROLLBACK').then(() => client.release(), (err) => client.release(err));
        } else {
          client.release(broken || undefined);
        }
      },
    };
  }

  return {
    kind: 'postgres',
    connect: () => session(pool),
    admin() {
      if (!adminDatabaseUrl) return session(pool);
      adminPool ??= newPool(adminDatabaseUrl, 2);
      return session(adminPool);
    },
    authPool() {
      // Better Auth (Kysely) calls end() on shutdown; the pool is ours to close.
      return { connect: () => pool.connect(), end: async () => {} };
    },
    async close() {
      await Promise.all([pool.end(), adminPool?.end()]);
    },
  };
}

function fieldOf(f) {
  return {
    name: f.name,
    tableID: f.tableID,
    columnID: f.columnID,
    dataTypeID: f.dataTypeID,
    dataTypeSize: f.dataTypeSize,
    dataTypeModifier: f.dataTypeModifier,
    format: 'text',
  };
}

// ---------------------------------------------------------------- PGlite

async function openPglite(dataDir) {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = dataDir ? new PGlite(dataDir) : new PGlite();
  await db.waitReady;
  let superuser; // the user PGlite opened its session as
  try {
    // PGlite is one session for the whole process, so this holds for every request.
    await db.query("SET TimeZone TO 'UTC'");
    superuser = (await db.query('SELECT session_user AS name')).rows[0].name;
    await ensureOwnerRole((text) => db.query(text));
    for (const statement of PGLITE_OWNER_SETUP) await db.exec(statement);
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }

  // PGlite is a single session: whoever holds it (a whole HTTP batch, a Kysely
  // transaction of Better Auth) must finish before anyone else's statement runs,
  // or one request's statements would land inside another's transaction.
  const session = new Mutex();

  async function rollbackIfInTransaction() {
    if (db.isInTransaction()) await runProtocol(db, 'ROLLBACK', []).catch(() => {});
  }

  /**
   * Takes the session as `role`: the owner for the app, or the superuser the session
   * was opened as. Set on every take, not once: SQL sent to /sql may itself change
   * the session user (a superuser-authenticated session may RESET it), and that
   * must not carry over to the next request.
   */
  async function take(role, query) {
    const unlock = await session.acquire(SESSION_WAIT_MS);
    try {
      // Named explicitly: PGlite's RESET SESSION AUTHORIZATION keeps the current user.
      await db.exec(`SET SESSION AUTHORIZATION ${role === 'owner' ? OWNER_ROLE : quoteIdent(superuser)}`);
    } catch (err) {
      unlock();
      throw err;
    }
    let released = false;
    return {
      query(text, params = []) {
        if (released) return Promise.reject(new Error('connection already released'));
        return query(text, params);
      },
      release() {
        if (released) return;
        released = true;
        rollbackIfInTransaction().finally(unlock);
      },
    };
  }

  const raw = (text, params) => runProtocol(db, text, params);
  // PGlite's own query() parses results into JS values and serialises JS params by
  // the statement's parameter types — what Kysely expects of pg.
  const parsed = (text, params) => db.query(text, params);

  return {
    kind: 'pglite',
    connect: () => take('owner', raw),
    admin: () => take('superuser', raw),
    authPool() {
      return { connect: () => take('owner', parsed), end: async () => {} };
    },
    async close() {
      const unlock = await session.acquire(SESSION_WAIT_MS).catch(() => () => {});
      try {
        await db.close();
      } finally {
        unlock();
      }
    },
  };
}

function quoteIdent(name) {
  return `"${name.replace(/"/g, '""')}"`;
}

const { serialize } = protocol;

function concatBytes(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * One statement over PGlite's wire protocol: Parse/Bind/Describe/Execute/Sync, the
 * same extended-protocol exchange Neon's proxy makes with its Postgres.
 *
 * Going below `db.query()` is deliberate: params reach Postgres as the exact text
 * given (PGlite's serialisers would, e.g., turn the string "f" for a bool parameter
 * into true), result values stay Postgres's own text, and the RowDescription and
 * CommandComplete messages give the full field metadata and command tag that Neon
 * returns (`db.query()` keeps only name and type of each field).
 */
async function runProtocol(db, text, params) {
  const message = concatBytes([
    serialize.parse({ text }),
    serialize.bind({ values: params }),
    serialize.describe({ type: 'P' }),
    serialize.execute({}),
    serialize.sync(),
  ]);
  // execProtocol (not execProtocolRaw) so PGlite resets its internal message list
  // per call; throwOnError off so the ErrorResponse arrives as a message with all
  // its fields, after which Sync has already brought the session back to idle.
  const { messages } = await db.runExclusive(() => db.execProtocol(message, { throwOnError: false }));

  const result = { command: '', rowCount: null, fields: [], rows: [] };
  let error = null;
  for (const msg of messages) {
    switch (msg.name) {
      case 'rowDescription':
        result.fields = msg.fields.map(fieldOf);
        break;
      case 'dataRow':
        result.rows.push(msg.fields);
        break;
      case 'commandComplete':
        Object.assign(result, parseCommandTag(msg.text));
        break;
      case 'error':
        error ??= msg;
        break;
      default:
        break;
    }
  }
  if (error) throw isPostgresError(error) ? new PostgresError(error) : error;
  return result;
}

/** "INSERT 0 3" → INSERT/3, "SELECT 2" → SELECT/2, "CREATE TABLE" → CREATE/null:
 *  the first word and the trailing count, as both `pg` and Neon's proxy report it. */
export function parseCommandTag(tag) {
  const words = tag.split(' ');
  const count = words.length > 1 ? Number.parseInt(words[words.length - 1], 10) : Number.NaN;
  return { command: words[0], rowCount: Number.isNaN(count) ? null : count };
}

/** A FIFO lock whose waiters give up after a deadline instead of queueing forever. */
export class Mutex {
  #locked = false;
  #waiters = [];

  acquire(timeoutMs = Infinity) {
    if (!this.#locked) {
      this.#locked = true;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter = { grant: () => resolve(this.#releaser()) };
      if (Number.isFinite(timeoutMs)) {
        const timer = setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(new Error('timed out waiting for the database session'));
        }, timeoutMs);
        timer.unref?.();
        waiter.grant = () => {
          clearTimeout(timer);
          resolve(this.#releaser());
        };
      }
      this.#waiters.push(waiter);
    });
  }

  #releaser() {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.#waiters.shift();
      if (next) next.grant();
      else this.#locked = false;
    };
  }
}
