// The PEER of the benchmark: the same /health, /api/me, task list, create and update
// as the Rust worker, written the way a Workers user typically would in JavaScript —
// `jose` for the JWT (a remote JWKS created once per isolate, or the HS256 secret) and
// Neon's own driver `@neondatabase/serverless` for the one SQL statement per request.
// Create and update are the plain kind (no version, no idempotency, no quota): what a
// typical JS worker does, so our extra features count inside our budget.
//
// bench/run.mjs bundles this with esbuild and loads it into its own Miniflare
// instance. It only has to answer these routes like the Rust worker does (status
// codes and response shape); it is not a second implementation of the whole API.

import { createRemoteJWKSet, jwtVerify } from 'jose';
import { neon, neonConfig } from '@neondatabase/serverless';

const ALGORITHMS = ['EdDSA', 'ES256', 'ES512', 'RS256', 'PS256'];
const LIST_SQL =
  'SELECT id, user_id, title, description, completed, created_at, updated_at FROM tasks ' +
  'WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2';
const RETURNING = 'RETURNING id, user_id, title, description, completed, created_at, updated_at';
const INSERT_SQL = `INSERT INTO tasks (user_id, title, description) VALUES ($1, $2, $3) ${RETURNING}`;
const TASK_PATH = /^\/api\/tasks\/(\d{1,18})$/;

// Per isolate: the JWKS cache lives inside the function createRemoteJWKSet returns.
let setup = null;

function init(env) {
  if (setup) return setup;
  if (env.NEON_SQL_ENDPOINT) neonConfig.fetchEndpoint = env.NEON_SQL_ENDPOINT;
  const jwks = env.AUTH_JWKS_URL ? createRemoteJWKSet(new URL(env.AUTH_JWKS_URL)) : null;
  const secret = env.AUTH_JWT_SECRET ? new TextEncoder().encode(env.AUTH_JWT_SECRET) : null;
  setup = {
    sql: neon(env.DATABASE_URL),
    key: (header, token) => (header.alg === 'HS256' ? secret : jwks(header, token)),
    options: {
      issuer: env.AUTH_ISSUER,
      audience: env.AUTH_AUDIENCE,
      algorithms: [...(jwks ? ALGORITHMS : []), ...(secret ? ['HS256'] : [])],
      clockTolerance: 30,
    },
  };
  return setup;
}

function problem(status, title, headers = {}) {
  return new Response(JSON.stringify({ type: 'about:blank', title, status, detail: title }), {
    status,
    headers: { 'content-type': 'application/problem+json', ...headers },
  });
}

async function authenticate(request, { key, options }) {
  const match = /^Bearer ([^\s]+)$/i.exec(request.headers.get('authorization') ?? '');
  if (!match) return { error: problem(401, 'Unauthorized', { 'www-authenticate': 'Bearer realm="api"' }) };
  try {
    const { payload } = await jwtVerify(match[1], key, options);
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new Error('no sub');
    return { claims: payload };
  } catch {
    return {
      error: problem(401, 'Unauthorized', {
        'www-authenticate': 'Bearer realm="api", error="invalid_token", error_description="The token is invalid"',
      }),
    };
  }
}

// the API (docs/api.md, "Request log") asks every implementation for one structured log line per
// request; the peer writes the same line as the Rust worker so both pay for it.
export default {
  async fetch(request, env) {
    const started = Date.now();
    const response = await handle(request, env);
    console.log(
      JSON.stringify({
        method: request.method,
        route: new URL(request.url).pathname,
        status: response.status,
        duration_ms: Date.now() - started,
        cf_ray: request.headers.get('cf-ray'),
        reason: response.status === 401 || response.status >= 500 ? 'refused' : null,
      }),
    );
    return response;
  },
};

async function handle(request, env) {
  const url = new URL(request.url);
  if (url.pathname === '/health' && request.method === 'GET') return Response.json({ status: 'ok' });

  const isMe = url.pathname === '/api/me';
  const isList = url.pathname === '/api/tasks';
  const taskId = TASK_PATH.exec(url.pathname)?.[1];
  if (!isMe && !isList && !taskId) return problem(404, 'Not Found');
  const allowed = isMe ? 'GET' : isList ? 'GET, POST' : 'PATCH';
  if (!allowed.split(', ').includes(request.method)) return problem(405, 'Method Not Allowed', { allow: allowed });

  const app = init(env);
  const { claims, error } = await authenticate(request, app);
  if (error) return error;

  if (isMe) {
    const me = { user_id: claims.sub };
    if (typeof claims.email === 'string') me.email = claims.email;
    if (typeof claims.name === 'string') me.name = claims.name;
    return Response.json(me);
  }
  try {
    if (isList && request.method === 'GET') return await list(app, claims, url);
    if (isList) return await create(app, claims, request);
    return await update(app, claims, request, taskId);
  } catch {
    return problem(503, 'Service Unavailable', { 'retry-after': '1' });
  }
}

async function list(app, claims, url) {
  const limit = Number(url.searchParams.get('limit') ?? 50);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) return problem(422, 'Unprocessable Content');
  const rows = await app.sql.query(LIST_SQL, [claims.sub, limit]);
  return Response.json(rows.map(toTask));
}

async function create(app, claims, request) {
  const body = await readJson(request);
  if (body instanceof Response) return body;
  const title = checkTitle(body.title);
  const description = checkDescription(body.description);
  if (title === undefined || description === undefined) return problem(422, 'Unprocessable Content');
  const [row] = await app.sql.query(INSERT_SQL, [claims.sub, title, description ?? null]);
  const task = toTask(row);
  return Response.json(task, { status: 201, headers: { location: `/api/tasks/${task.id}` } });
}

async function update(app, claims, request, id) {
  const body = await readJson(request);
  if (body instanceof Response) return body;
  // The usual partial update: a SET clause of the fields present, one statement.
  const params = [claims.sub, id];
  const sets = [];
  if ('title' in body) {
    const title = checkTitle(body.title);
    if (title === undefined) return problem(422, 'Unprocessable Content');
    params.push(title);
    sets.push(`title = $${params.length}`);
  }
  if ('description' in body) {
    const description = checkDescription(body.description);
    if (description === undefined) return problem(422, 'Unprocessable Content');
    params.push(description);
    sets.push(`description = $${params.length}`);
  }
  if ('completed' in body) {
    if (typeof body.completed !== 'boolean') return problem(422, 'Unprocessable Content');
    params.push(body.completed);
    sets.push(`completed = $${params.length}`);
  }
  if (sets.length === 0) return problem(422, 'Unprocessable Content');
  const rows = await app.sql.query(
    `UPDATE tasks SET ${sets.join(', ')}, updated_at = now() WHERE user_id = $1 AND id = $2 ${RETURNING}`,
    params,
  );
  if (rows.length === 0) return problem(404, 'Not Found');
  return Response.json(toTask(rows[0]));
}

/** The body as a JSON object, or the error response. */
async function readJson(request) {
  let body;
  try {
    body = await request.json();
  } catch {
    return problem(400, 'Bad Request');
  }
  return body && typeof body === 'object' && !Array.isArray(body) ? body : problem(422, 'Unprocessable Content');
}

/** The trimmed title, or undefined when it breaks the rules. */
function checkTitle(value) {
  if (typeof value !== 'string') return undefined;
  const title = value.trim();
  return title.length >= 1 && title.length <= 200 ? title : undefined;
}

/** null/absent → null, a string of at most 1000 characters → itself, else undefined. */
function checkDescription(value) {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' && value.length <= 1000 ? value : undefined;
}

// bigint ids come back as strings from the driver; the API's ids are numbers.
const toTask = (row) => ({ ...row, id: Number(row.id) });
