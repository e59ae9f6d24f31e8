// A minimal client of Neon's SQL-over-HTTP protocol for tooling (`npm run migrate`):
// batch transactions only, rows as arrays of text — the same requests the worker
// makes. Works against Neon itself and against the local endpoint.

/**
 * The endpoint Neon's own driver derives from a connection string: the host's first
 * DNS label replaced by `api` (`ep-x-123.eu-central-1.aws.neon.tech` →
 * `api.eu-central-1.aws.neon.tech`), then `https://<that>/sql`.
 */
export function sqlEndpointFor(connectionString) {
  const { hostname } = parsePostgresUrl(connectionString);
  return `https://${hostname.replace(/^[^.]+\./, 'api.')}/sql`;
}

/** Parses like the driver does (`postgres:`/`postgresql:` only) without ever putting
 *  the string itself into an error message, since it holds a password. */
export function parsePostgresUrl(connectionString) {
  let url;
  try {
    url = new URL(connectionString);
  } catch {
    throw new Error('the connection string is not a valid URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error('the connection string must start with postgres:// or postgresql://');
  }
  if (!url.hostname) throw new Error('the connection string has no host');
  return url;
}

/** An error answered by Postgres (HTTP 400 from the endpoint), with its SQLSTATE. */
export class SqlHttpError extends Error {
  constructor(body) {
    super(typeof body?.message === 'string' ? body.message : 'database error');
    this.name = 'SqlHttpError';
    for (const key of ['code', 'severity', 'detail', 'hint', 'constraint', 'table', 'column', 'schema', 'position', 'where']) {
      if (body?.[key] !== undefined) this[key] = body[key];
    }
  }
}

/**
 * A BatchExecutor (see local/migrations.mjs) over HTTP.
 * @param {{ endpoint: string, connectionString: string, timeoutMs?: number, fetch?: typeof fetch }} options
 */
export function httpBatchExecutor({ endpoint, connectionString, timeoutMs = 60_000, fetch: fetchFn = fetch }) {
  parsePostgresUrl(connectionString);
  return async (queries) => {
    let response;
    try {
      response = await fetchFn(endpoint, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'Neon-Connection-String': connectionString,
          'Neon-Raw-Text-Output': 'true',
          'Neon-Array-Mode': 'true',
        },
        body: JSON.stringify({ queries: queries.map((q) => ({ query: q.query, params: q.params ?? [] })) }),
        // Every call has a deadline: a stuck endpoint must not hang a deploy.
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
      });
    } catch (err) {
      const reason = err?.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err?.cause?.code ?? err?.message ?? 'network error');
      throw new Error(`cannot reach the SQL endpoint ${endpoint}: ${reason}`);
    }
    const text = await response.text();
    if (response.status === 400) {
      let body = null;
      try {
        body = JSON.parse(text);
      } catch {
        // fall through with a generic message
      }
      throw new SqlHttpError(body);
    }
    if (!response.ok) {
      throw new Error(`SQL endpoint ${endpoint} answered HTTP ${response.status}`);
    }
    const body = JSON.parse(text);
    if (!Array.isArray(body?.results)) throw new Error('SQL endpoint answered without "results"');
    return body.results;
  };
}
