// What the benchmark's workers are given and asked: the seeded tasks, the bindings of
// a worker, and the measured requests (figures). Shared by run.mjs and profile.mjs, so
// a profile is taken of exactly the requests the benchmark measures.

import { ALGORITHMS, AUDIENCE, ISSUER, mintToken } from './auth.mjs';
import { FAKE_DATABASE_URL, sql } from './stack.mjs';

export const BENCH_USER = 'bench-user';
export const SEEDED_TASKS = 50;
/**
 * Creates come from this many users in turn. Each user's creates are serialized by
 * design (the quota is checked under a per-user lock, race-free at READ
 * COMMITTED), so 32 concurrent creates by one person would measure a queue no real
 * frontend forms; 32 clients creating at once are 32 people.
 */
export const WRITERS = 32;

/** 50 tasks for the bench user (and some for other users), created at distinct times. */
export async function seed(stack) {
  await sql(
    stack,
    `INSERT INTO tasks (user_id, title, created_at, updated_at)
     SELECT 'other-user-' || u, 'other task ' || t, now() - make_interval(secs => t), now() - make_interval(secs => t)
     FROM generate_series(1, 9) u, generate_series(1, ${SEEDED_TASKS}) t`,
  );
  const rows = await sql(
    stack,
    `INSERT INTO tasks (user_id, title, description, created_at, updated_at)
     SELECT $1, 'bench task ' || g, CASE WHEN g % 2 = 0 THEN 'description of task ' || g END,
            now() - make_interval(secs => g), now() - make_interval(secs => g)
     FROM generate_series(1, ${SEEDED_TASKS}) g RETURNING id`,
    [BENCH_USER],
  );
  const [[otherTaskId]] = await sql(stack, "SELECT id FROM tasks WHERE user_id = 'other-user-1' LIMIT 1");
  return { taskIds: rows.map(([id]) => id), otherTaskId };
}

/** A worker's vars and secrets: the run's issuer and keys (`ctx`), `stack`'s SQL endpoint, its own JWKS URL. */
export function bindingsFor(ctx, stack, jwksName) {
  return {
    AUTH_ISSUER: ISSUER,
    AUTH_AUDIENCE: AUDIENCE,
    AUTH_JWKS_URL: ctx.jwksServer.urlFor(jwksName),
    AUTH_JWT_SECRET: ctx.keys.secret,
    DATABASE_URL: FAKE_DATABASE_URL,
    NEON_SQL_ENDPOINT: stack.sqlUrl,
    // The bench user creates tens of thousands of tasks over a run; the default quota
    // (10 000) would turn the later creates into 409s. The quota check itself still
    // runs on every create, at the same cost.
    TASKS_PER_USER_MAX: '1000000',
  };
}

/**
 * The figures' tokens: `tokens`, one for the bench user per algorithm, and
 * `writerTokens`, EdDSA tokens for the `WRITERS` users who create tasks.
 */
export async function benchTokens(keys) {
  const tokens = Object.fromEntries(await Promise.all(ALGORITHMS.map(async (alg) => [alg, await mintToken(keys, alg, BENCH_USER)])));
  const writerTokens = await Promise.all(Array.from({ length: WRITERS }, (_, n) => mintToken(keys, 'EdDSA', `bench-writer-${n}`)));
  return { tokens, writerTokens };
}

/**
 * load() options for `requests` requests of a figure; `offset` shifts the request
 * index, so consecutive runs send distinct bodies and change different tasks.
 */
export function loadOptions(fig, { concurrency = 1, requests, offset = 0, maxMs }) {
  const at = (value) => (typeof value === 'function' ? (i) => value(offset + i) : value);
  return {
    concurrency,
    requests,
    maxMs,
    method: fig.method ?? 'GET',
    headers: at(fig.headers),
    path: at(fig.path),
    body: at(fig.body),
    expectStatus: fig.expectStatus ?? 200,
  };
}

/**
 * The measured requests, one per figure: `ctx` has the tokens per algorithm
 * (`ctx.tokens`), the writers' tokens (`ctx.writerTokens`), the seeded task ids
 * (`ctx.taskIds`) and, with a baseline, `ctx.baseline`.
 */
export function figures(ctx) {
  const auth = (alg) => ({ authorization: `Bearer ${ctx.tokens[alg]}` });
  // The base release gets the same plain requests as ours, on the routes it shares.
  const base = ctx.baseline ? ['base'] : [];
  // Consecutive requests change different tasks, so concurrent ones rarely wait on a row lock.
  const taskPath = (i, suffix = '') => `/api/tasks/${ctx.taskIds[i % ctx.taskIds.length]}${suffix}`;
  const writeHeaders = { ...auth('EdDSA'), 'content-type': 'application/json' };
  return [
    { id: 'health', label: 'GET /health', path: '/health', headers: {}, kinds: ['ours', 'peer', ...base], size: 'auth', sqlPerRequest: 0 },
    ...ALGORITHMS.map((alg) => ({
      id: `me-${alg}`,
      label: `GET /api/me ${alg}`,
      path: '/api/me',
      alg,
      headers: auth(alg),
      kinds: ['ours', 'peer', ...(alg === 'EdDSA' ? base : [])],
      size: 'auth',
      sqlPerRequest: 0,
    })),
    { id: 'list', label: 'GET /api/tasks?limit=50 EdDSA', path: '/api/tasks?limit=50', alg: 'EdDSA', headers: auth('EdDSA'), kinds: ['ours', 'peer', ...base], size: 'db', sqlPerRequest: 1 },
    {
      id: 'create',
      label: `POST /api/tasks EdDSA (${WRITERS} users)`,
      method: 'POST',
      path: '/api/tasks',
      body: (i) => JSON.stringify({ title: `bench task created ${i}` }),
      expectStatus: 201,
      alg: 'EdDSA',
      headers: (i) => ({ authorization: `Bearer ${ctx.writerTokens[i % WRITERS]}`, 'content-type': 'application/json' }),
      kinds: ['ours', 'peer', ...base],
      size: 'db',
      sqlPerRequest: 1,
    },
    {
      id: 'update',
      label: 'PATCH /api/tasks/{id} EdDSA',
      method: 'PATCH',
      path: (i) => taskPath(i),
      body: (i) => JSON.stringify({ title: `bench task updated ${i}` }),
      alg: 'EdDSA',
      headers: writeHeaders,
      kinds: ['ours', 'peer', ...base],
      size: 'db',
      sqlPerRequest: 1,
    },
    {
      id: 'toggle',
      label: 'PATCH /api/tasks/{id}/complete EdDSA',
      method: 'PATCH',
      path: (i) => taskPath(i, '/complete'),
      alg: 'EdDSA',
      headers: auth('EdDSA'),
      kinds: ['ours', ...base],
      size: 'db',
      sqlPerRequest: 1,
    },
  ];
}
