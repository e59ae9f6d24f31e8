// A local stand-in for Neon's SQL-over-HTTP endpoint (`POST /sql`), shaped after what
// the real `@neondatabase/serverless` driver sends and parses (its `neon()` execute
// path): the same headers, bodies, result objects and 400 error bodies.
//
// Never log or echo the Neon-Connection-String header: it carries a password.

import { createHash, timingSafeEqual } from 'node:crypto';
import { PostgresError, PG_ERROR_FIELDS } from './backend.mjs';
import { toJsonValue } from './pg-json.mjs';

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Bodies are drained (to let the client read our 413) only up to this much. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

/** Neon-Batch-Isolation-Level values (the driver's `isolationLevel` option). */
const ISOLATION_LEVELS = {
  ReadUncommitted: 'READ UNCOMMITTED',
  ReadCommitted: 'READ COMMITTED',
  RepeatableRead: 'REPEATABLE READ',
  Serializable: 'SERIALIZABLE',
};

/** SQLSTATE for "protocol violation": the request itself is malformed. */
const PROTOCOL_VIOLATION = '08P01';

class RequestError extends Error {
  constructor(status, message, headers = {}, code = PROTOCOL_VIOLATION) {
    super(message);
    this.status = status;
    this.headers = headers;
    this.code = code;
  }
}

/** SQLSTATE for "invalid password", what Postgres answers a wrong credential with. */
const INVALID_PASSWORD = '28P01';

/**
 * @param {{ backend: object, stats?: { sql: number }, maxBodyBytes?: number,
 *           connectionString?: string, logError?: (message: string) => void }} options
 *   connectionString: when set, the only Neon-Connection-String accepted (exactly);
 *   otherwise any postgres:// URL is.
 * @returns {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => Promise<void>}
 */
export function createSqlEndpoint({ backend, stats, maxBodyBytes = DEFAULT_MAX_BODY_BYTES, connectionString, logError = defaultLog }) {
  const expected = connectionString ? digest(connectionString) : null;
  return async function handleSql(req, res) {
    if (stats) stats.sql += 1;
    try {
      const request = await readRequest(req, maxBodyBytes, expected);
      const { status, body } = await execute(backend, request);
      sendJson(res, status, body);
    } catch (err) {
      if (err instanceof RequestError) {
        sendJson(res, err.status, { message: err.message, code: err.code }, err.headers);
      } else if (err instanceof PostgresError) {
        sendJson(res, 400, postgresErrorBody(err));
      } else {
        // A backend failure (lost server connection, engine crash): no details to the
        // client; the driver reports any non-400 as "Server error (HTTP status …)".
        logError(`[local-stack] SQL endpoint failure: ${err?.message ?? err}`);
        sendJson(res, 500, { message: 'local SQL endpoint: internal error', code: 'XX000' });
      }
    }
  };
}

function defaultLog(message) {
  console.error(message);
}

// ------------------------------------------------------------------ request

/** Fixed-length digests, so the comparison takes the same time whatever the input. */
function digest(text) {
  return createHash('sha256').update(text).digest();
}

async function readRequest(req, maxBodyBytes, expectedConnection) {
  if (req.method !== 'POST') {
    req.resume();
    throw new RequestError(405, `method ${req.method} not allowed; use POST`, { Allow: 'POST' });
  }

  const connectionString = req.headers['neon-connection-string'];
  if (typeof connectionString !== 'string' || connectionString === '') {
    req.resume();
    throw new RequestError(400, 'missing Neon-Connection-String header');
  }
  if (!isPostgresUrl(connectionString)) {
    req.resume();
    // Deliberately not quoting the value: it may hold a password.
    throw new RequestError(400, 'Neon-Connection-String is not a postgres:// or postgresql:// URL');
  }
  if (expectedConnection && !timingSafeEqual(digest(connectionString), expectedConnection)) {
    req.resume();
    throw new RequestError(400, 'Neon-Connection-String does not match the one this local stack was started with', {}, INVALID_PASSWORD);
  }

  const text = await readBody(req, maxBodyBytes);
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new RequestError(400, 'request body is not valid JSON');
  }

  const raw = req.headers['neon-raw-text-output'] === 'true';
  const arrayMode = req.headers['neon-array-mode'] === 'true';

  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new RequestError(400, 'request body must be a JSON object with "query" or "queries"');
  }
  if ('query' in body && 'queries' in body) {
    throw new RequestError(400, 'request body must have either "query" or "queries", not both');
  }
  if ('queries' in body) {
    if (!Array.isArray(body.queries)) throw new RequestError(400, '"queries" must be an array');
    return {
      batch: true,
      queries: body.queries.map((q, i) => parseQuery(q, `queries[${i}]`, arrayMode)),
      raw,
      transaction: parseBatchHeaders(req.headers),
    };
  }
  if ('query' in body) {
    return { batch: false, queries: [parseQuery(body, 'body', arrayMode)], raw };
  }
  throw new RequestError(400, 'request body must have "query" or "queries"');
}

function isPostgresUrl(value) {
  try {
    const { protocol } = new URL(value);
    return protocol === 'postgres:' || protocol === 'postgresql:';
  } catch {
    return false;
  }
}

/** Reads at most `max` bytes. A bigger body gets a 413, after draining the rest so the
 *  client (which is still writing) reliably receives the answer. */
function readBody(req, max) {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    let tooLarge = Number.isFinite(declared) && declared > max;
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_DRAIN_BYTES) {
        req.destroy();
        return;
      }
      if (tooLarge || size > max) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) reject(new RequestError(413, `request body exceeds ${max} bytes`));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    // A client that hangs up mid-body is nobody's error: nothing is answered or logged.
    req.on('error', () => reject(new RequestError(400, 'request aborted')));
    req.on('close', () => reject(new RequestError(400, 'request aborted')));
  });
}

function parseQuery(q, where, defaultArrayMode) {
  if (q === null || typeof q !== 'object' || Array.isArray(q)) {
    throw new RequestError(400, `${where} must be an object with "query" and "params"`);
  }
  if (typeof q.query !== 'string') throw new RequestError(400, `${where}.query must be a string`);
  const params = q.params ?? [];
  if (!Array.isArray(params)) throw new RequestError(400, `${where}.params must be an array`);
  // Neon also honours a per-query arrayMode inside a batch.
  if (q.arrayMode !== undefined && typeof q.arrayMode !== 'boolean') {
    throw new RequestError(400, `${where}.arrayMode must be a boolean`);
  }
  return {
    text: q.query,
    params: params.map((p) => paramText(p)),
    arrayMode: q.arrayMode ?? defaultArrayMode,
  };
}

/**
 * Params are meant to be text or null (the driver prepares them so), but Neon also
 * accepts other JSON values and turns them into Postgres text; this does the same:
 * numbers and booleans printed, arrays as array literals, objects as JSON.
 */
function paramText(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return arrayLiteral(value, 1);
  return JSON.stringify(value);
}

/** Postgres arrays have at most 6 dimensions (MAXDIM); deeper nesting is refused
 *  here rather than recursing without bound. */
const MAX_ARRAY_DIMENSIONS = 6;

function arrayLiteral(values, depth) {
  if (depth > MAX_ARRAY_DIMENSIONS) {
    throw new RequestError(400, `array params may have at most ${MAX_ARRAY_DIMENSIONS} dimensions`);
  }
  const items = values.map((v) => {
    if (v === null || v === undefined) return 'NULL';
    if (Array.isArray(v)) return arrayLiteral(v, depth + 1);
    const text = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  });
  return `{${items.join(',')}}`;
}

function parseBatchHeaders(headers) {
  const level = headers['neon-batch-isolation-level'];
  if (level !== undefined && !Object.hasOwn(ISOLATION_LEVELS, level)) {
    // Silently running at another isolation level than asked would hide bugs.
    throw new RequestError(400, `Neon-Batch-Isolation-Level must be one of ${Object.keys(ISOLATION_LEVELS).join(', ')}`);
  }
  return {
    isolationLevel: level === undefined ? undefined : ISOLATION_LEVELS[level],
    readOnly: booleanHeader(headers, 'Neon-Batch-Read-Only'),
    deferrable: booleanHeader(headers, 'Neon-Batch-Deferrable'),
  };
}

function booleanHeader(headers, name) {
  const value = headers[name.toLowerCase()];
  if (value === undefined) return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new RequestError(400, `${name} must be "true" or "false"`);
}

/** The BEGIN that opens a batch, e.g. `BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY`. */
export function beginStatement({ isolationLevel, readOnly, deferrable } = {}) {
  const modes = [];
  if (isolationLevel) modes.push(`ISOLATION LEVEL ${isolationLevel}`);
  if (readOnly !== undefined) modes.push(readOnly ? 'READ ONLY' : 'READ WRITE');
  if (deferrable !== undefined) modes.push(deferrable ? 'DEFERRABLE' : 'NOT DEFERRABLE');
  return ['BEGIN', ...modes].join(' ');
}

// ------------------------------------------------------------------ execution

async function execute(backend, request) {
  const conn = await backend.connect();
  try {
    if (!request.batch) {
      const [q] = request.queries;
      return { status: 200, body: shapeResult(await conn.query(q.text, q.params), q.arrayMode, request.raw) };
    }
    // A batch is one transaction: the first error rolls all of it back, so nothing of
    // it persists (the connection's release() also rolls back whatever is left open).
    await conn.query(beginStatement(request.transaction), []);
    const results = [];
    try {
      for (const q of request.queries) {
        results.push(shapeResult(await conn.query(q.text, q.params), q.arrayMode, request.raw));
      }
      await conn.query('COMMIT', []);
    } catch (err) {
      await conn.query('ROLLBACK', []).catch(() => {});
      throw err;
    }
    return { status: 200, body: { results } };
  } finally {
    conn.release();
  }
}

/** One result as Neon returns it. Without `Neon-Raw-Text-Output: true` Neon turns
 *  some types into JSON values; with it (as the driver always asks) all stay text. */
function shapeResult(result, arrayMode, raw) {
  const { fields } = result;
  const convert = raw
    ? (row) => row
    : (row) => row.map((value, i) => toJsonValue(value, fields[i].dataTypeID));
  const rows = result.rows.map((row) => {
    const values = convert(row);
    return arrayMode ? values : Object.fromEntries(fields.map((f, i) => [f.name, values[i]]));
  });
  return { command: result.command, rowCount: result.rowCount, rows, fields, rowAsArray: arrayMode };
}

function postgresErrorBody(err) {
  const body = { message: err.message };
  for (const key of PG_ERROR_FIELDS) {
    if (err[key] !== undefined) body[key] = err[key];
  }
  return body;
}

/** Sends a JSON body (a no-op once the response has started or the socket is gone). */
export function sendJson(res, status, body, headers = {}) {
  if (res.headersSent || res.destroyed) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}
