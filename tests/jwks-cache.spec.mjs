// The JWKS's shared tier (docs/token-policy.md §6): isolates of one location share fetched key sets
// through the Workers Cache API. A fresh isolate reads the cached set before it asks
// the issuer; a fetched set is written back (under waitUntil) with its fresh and stale
// lifetimes; a set past its stale lifetime is never used; and a missing, empty or
// disabled Cache API changes nothing but the number of issuer fetches.
//
// Two isolates: one Miniflare running the built worker twice ('a' and 'b', each its
// own workerd isolate with its own in-memory JWKS cache). Miniflare keeps one Cache
// API store per cache name for all workers of an instance, as Cloudflare does for the
// workers of one zone in a location. A third worker, 'seeder', reads and writes that
// store directly, to show what the worker wrote and to plant entries the worker
// would have written at another time (a real stale lifetime is an hour).
//
// JWKS_CACHE_MEASURE=1 adds the measurement: a fresh isolate's first /api/me with a
// warm vs a cold shared tier (JWKS_CACHE_ISSUER_DELAY_MS simulates the issuer's RTT).

import { createHash } from 'node:crypto';
import readline from 'node:readline';
import { describe, expect, it } from 'vitest';
import { Miniflare } from 'miniflare';
import {
  authBindings,
  closedPortUrl,
  compatibilityDate,
  expectUnavailable,
  generateSigningKey,
  me,
  mintToken,
  perTest,
  sleep,
  startJwksServer,
} from './harness.mjs';
import { builtWorkerOptions } from './support/worker.mjs';

/** What src/auth/jwks.rs names the cache and its keys. */
const CACHE_NAME = 'task-api-jwks';
const sharedKey = (jwksUrl) =>
  `https://jwks-cache.task-api.internal/v1/${createHash('sha256').update(jwksUrl).digest('hex')}`;
/** Default freshness and the stale allowance (docs/token-policy.md §6). */
const FRESH_MS = 600_000;
const STALE_MS = 3_600_000;

const SEEDER = `
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const key = url.searchParams.get('key');
    const cache = await caches.open(${JSON.stringify(CACHE_NAME)});
    if (request.method === 'PUT') {
      const headers = JSON.parse(url.searchParams.get('headers'));
      await cache.put(key, new Response(await request.arrayBuffer(), { headers }));
      return new Response('stored');
    }
    const hit = await cache.match(key);
    if (!hit) return new Response('miss', { status: 404 });
    const headers = Object.fromEntries(hit.headers);
    return Response.json({ headers, body: await hit.text() });
  },
};`;

/**
 * One Miniflare with the built worker as 'a' and 'b' and the 'seeder'. `cache: false`
 * makes the Cache API a no-op, as on *.workers.dev.
 */
async function startPair(bindings, { cache = true } = {}) {
  const logs = [];
  const built = (name) => ({ ...builtWorkerOptions(), name, bindings, cache });
  const mf = new Miniflare({
    workers: [
      built('a'),
      built('b'),
      { name: 'seeder', modules: true, script: SEEDER, compatibilityDate: compatibilityDate() },
    ],
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        readline.createInterface({ input: stream }).on('line', (line) => logs.push(line));
      }
    },
  });
  await mf.ready;
  const fetcher = async (name) => {
    const worker = await mf.getWorker(name);
    return { fetch: (path, init) => worker.fetch(new URL(path, 'http://worker.test').toString(), init) };
  };
  const seeder = await fetcher('seeder');
  return {
    a: await fetcher('a'),
    b: await fetcher('b'),
    logs,
    /** The shared entry for `jwksUrl`: { headers, body } or null. */
    async entry(jwksUrl) {
      const res = await seeder.fetch(`/?key=${encodeURIComponent(sharedKey(jwksUrl))}`);
      return res.status === 200 ? res.json() : (await res.text(), null);
    },
    /** Waits for the write-back (it runs under waitUntil, after the response). */
    async waitForEntry(jwksUrl, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = await this.entry(jwksUrl);
        if (found) return found;
        if (Date.now() > deadline) throw new Error('no shared JWKS entry was written');
        await sleep(20);
      }
    },
    /** Plants an entry as the worker would have written it with these lifetimes. */
    async seed(jwksUrl, keys, { fetchedAt, freshUntil, staleUntil, maxAge = 3_600, body }) {
      const headers = { 'content-type': 'application/json', 'cache-control': `max-age=${maxAge}` };
      if (fetchedAt !== undefined) headers['x-jwks-fetched-at'] = String(fetchedAt);
      if (freshUntil !== undefined) headers['x-jwks-fresh-until'] = String(freshUntil);
      if (staleUntil !== undefined) headers['x-jwks-stale-until'] = String(staleUntil);
      const query = `key=${encodeURIComponent(sharedKey(jwksUrl))}&headers=${encodeURIComponent(JSON.stringify(headers))}`;
      const res = await seeder.fetch(`/?${query}`, { method: 'PUT', body: body ?? JSON.stringify({ keys }) });
      expect(res.status).toBe(200);
      await res.text();
    },
    close: () => mf.dispose(),
  };
}

function pairs({ onTestFinished }) {
  return async (bindings, options) => {
    const pair = await startPair(bindings, options);
    onTestFinished(() => pair.close());
    return pair;
  };
}

function expectUserId(res, userId) {
  expect(res.status, res.text).toBe(200);
  expect(res.body).toEqual({ user_id: userId });
}

/** Lifetimes as the worker writes them, for a set fetched `ageMs` ago. */
function fetchedAgo(ageMs) {
  const fetchedAt = Date.now() - ageMs;
  return { fetchedAt, freshUntil: fetchedAt + FRESH_MS, staleUntil: fetchedAt + FRESH_MS + STALE_MS };
}

// ------------------------------------------------------------------ sharing

describe('two isolates share one issuer fetch through the Cache API (§5.6)', () => {
  it("isolate a fetches and writes the set back; isolate b's first /api/me uses it, no second fetch", async (ctx) => {
    const server = await perTest(ctx).jwksServer({ keys: [] });
    const key = await generateSigningKey('EdDSA', { kid: 'k1' });
    server.keys = [key.jwk];
    const pair = await pairs(ctx)(authBindings({ AUTH_JWKS_URL: server.url }));

    expectUserId(await me(pair.a, await mintToken(key, { sub: 'via-a' })), 'via-a');
    expect(server.hits).toBe(1);
    const entry = await pair.waitForEntry(server.url);
    // The issuer's own body, with the lifetimes the policy gave it.
    expect(JSON.parse(entry.body)).toEqual({ keys: [key.jwk] });
    const fetchedAt = Number(entry.headers['x-jwks-fetched-at']);
    expect(Math.abs(fetchedAt - Date.now())).toBeLessThan(10_000);
    expect(Number(entry.headers['x-jwks-fresh-until']) - fetchedAt).toBe(FRESH_MS);
    expect(Number(entry.headers['x-jwks-stale-until']) - fetchedAt).toBe(FRESH_MS + STALE_MS);
    // Kept by the Cache API through the stale window.
    const maxAge = Number(entry.headers['cache-control'].match(/^max-age=(\d+)$/)[1]);
    expect(maxAge).toBeGreaterThan((FRESH_MS + STALE_MS) / 1000 - 60);
    expect(maxAge).toBeLessThanOrEqual((FRESH_MS + STALE_MS) / 1000);

    // b is another isolate: its memory is cold, the shared tier is warm.
    const [first, second] = await Promise.all([
      me(pair.b, await mintToken(key, { sub: 'via-b-1' })),
      me(pair.b, await mintToken(key, { sub: 'via-b-2' })),
    ]);
    expectUserId(first, 'via-b-1');
    expectUserId(second, 'via-b-2');
    expect(server.hits, 'one issuer fetch for both isolates').toBe(1);
  });

  it("the issuer's Cache-Control max-age sets the shared fresh lifetime", async (ctx) => {
    const key = await generateSigningKey('ES256', { kid: 'k1' });
    const server = await perTest(ctx).jwksServer({ keys: [key.jwk], cacheControl: 'public, max-age=120' });
    const pair = await pairs(ctx)(authBindings({ AUTH_JWKS_URL: server.url }));
    expectUserId(await me(pair.a, await mintToken(key, { sub: 'u' })), 'u');
    const { headers } = await pair.waitForEntry(server.url);
    const fetchedAt = Number(headers['x-jwks-fetched-at']);
    expect(Number(headers['x-jwks-fresh-until']) - fetchedAt).toBe(120_000);
    expect(Number(headers['x-jwks-stale-until']) - fetchedAt).toBe(120_000 + STALE_MS);
  });

  it('a fresh shared set seeds a fresh isolate with no issuer fetch at all', async (ctx) => {
    // The issuer publishes `current`; the shared set holds `shared`, which only a
    // read of the tier can know about.
    const shared = await generateSigningKey('EdDSA', { kid: 'shared' });
    const current = await generateSigningKey('EdDSA', { kid: 'current' });
    const server = await perTest(ctx).jwksServer({ keys: [current.jwk] });
    const pair = await pairs(ctx)(authBindings({ AUTH_JWKS_URL: server.url }));
    await pair.seed(server.url, [shared.jwk], fetchedAgo(60_000));

    expectUserId(await me(pair.b, await mintToken(shared, { sub: 'seeded' })), 'seeded');
    expect(server.hits, 'no issuer fetch').toBe(0);
    // An unknown kid still reaches the issuer (rotation is not the tier's business).
    expectUserId(await me(pair.b, await mintToken(current, { sub: 'rotated' })), 'rotated');
    expect(server.hits).toBe(1);
  });
});

// ------------------------------------------------------------------ lifetimes

describe('shared sets are used only within their lifetimes (§5.6)', () => {
  it('a shared set past its stale lifetime is not used: the issuer is asked, its keys decide', async (ctx) => {
    const old = await generateSigningKey('EdDSA', { kid: 'old' });
    const current = await generateSigningKey('EdDSA', { kid: 'current' });
    const server = await perTest(ctx).jwksServer({ keys: [current.jwk] });
    const pair = await pairs(ctx)(authBindings({ AUTH_JWKS_URL: server.url }));
    // Past stale by a second, but still held by the Cache API (its max-age says an hour).
    await pair.seed(server.url, [old.jwk], fetchedAgo(FRESH_MS + STALE_MS + 1_000));

    const res = await me(pair.b, await mintToken(old, { sub: 'old' }));
    expect(res.status, res.text).toBe(401);
    expect(server.hits, 'the expired shared set did not stand in for the issuer').toBe(1);
    expectUserId(await me(pair.b, await mintToken(current, { sub: 'current' })), 'current');
  });

  it('a set past its stale lifetime does not rescue an unreachable issuer: 503, not 200', async (ctx) => {
    const old = await generateSigningKey('EdDSA', { kid: 'old' });
    const jwksUrl = await closedPortUrl('/jwks');
    const pair = await pairs(ctx)(authBindings({ AUTH_JWKS_URL: jwksUrl }));
    await pair.seed(jwksUrl, [old.jwk], fetchedAgo(FRESH_MS + STALE_MS + 1_000));
    expectUnavailable(await me(pair.b, await mintToken(old, { sub: 'old' })));
  });

  it('a stale shared set (past fresh, within stale) serves while the refresh fails', async (ctx) => {
    const key = await generateSigningKey('EdDSA', { kid: 'k1' });
    const server = await perTest(ctx).jwksServer({ keys: [key.jwk] });
    server.mode = 'error';
    const pair = await pairs(ctx)(authBindings({ AUTH_JWKS_URL: server.url }));
    await pair.seed(server.url, [key.jwk], fetchedAgo(FRESH_MS + 60_000));

    expectUserId(await me(pair.b, await mintToken(key, { sub: 'stale-ok' })), 'stale-ok');
    expect(server.hits, 'a refresh was attempted').toBe(1);
    expectUserId(await me(pair.b, await mintToken(key, { sub: 'again' })), 'again');
    expect(server.hits, 'and not again inside the cooldown').toBe(1);
  });

  it('an unreachable issuer with a warm shared tier still serves a fresh isolate (200)', async (ctx) => {
    const key = await generateSigningKey('ES256', { kid: 'k1' });
    const server = await perTest(ctx).jwksServer({ keys: [key.jwk] });
    const pair = await pairs(ctx)(authBindings({ AUTH_JWKS_URL: server.url }));
    expectUserId(await me(pair.a, await mintToken(key, { sub: 'a' })), 'a');
    await pair.waitForEntry(server.url);
    await server.close();

    expectUserId(await me(pair.b, await mintToken(key, { sub: 'b' })), 'b');
    expect(server.hits).toBe(1);
  });
});

// ------------------------------------------------------------------ best effort

describe('the shared tier is best effort: nothing breaks without it (§5.6)', () => {
  it('Cache API disabled (as on *.workers.dev): each isolate fetches once, every request is served', async (ctx) => {
    const key = await generateSigningKey('EdDSA', { kid: 'k1' });
    const server = await perTest(ctx).jwksServer({ keys: [key.jwk] });
    const pair = await pairs(ctx)(authBindings({ AUTH_JWKS_URL: server.url }), { cache: false });
    for (const [name, w] of [['a', pair.a], ['b', pair.b]]) {
      for (let i = 0; i < 3; i += 1) expectUserId(await me(w, await mintToken(key, { sub: `${name}${i}` })), `${name}${i}`);
    }
    expect(server.hits, 'one fetch per isolate').toBe(2);
    expect(await pair.entry(server.url)).toBeNull();
  });

  it('an empty shared tier: the first isolate fetches as before', async (ctx) => {
    const key = await generateSigningKey('RS256', { kid: 'k1' });
    const server = await perTest(ctx).jwksServer({ keys: [key.jwk] });
    const pair = await pairs(ctx)(authBindings({ AUTH_JWKS_URL: server.url }));
    expect(await pair.entry(server.url)).toBeNull();
    expectUserId(await me(pair.b, await mintToken(key, { sub: 'u' })), 'u');
    expect(server.hits).toBe(1);
  });

  // Each entry holds a key with the issuer's kid but another key pair: were it used,
  // the token would fail its signature check (401) and the issuer would not be asked.
  const broken = [
    ['a body that is not a JWK Set', () => ({ ...fetchedAgo(1_000), body: '{"keys": [ not json' })],
    ['no lifetime headers', () => ({})],
    ['lifetimes out of order', () => ({ ...fetchedAgo(1_000), freshUntil: Date.now() + STALE_MS * 2 })],
    ['a fresh window longer than 24 h', () => ({ ...fetchedAgo(1_000), freshUntil: Date.now() + 25 * 3_600_000, staleUntil: Date.now() + 25 * 3_600_000 })],
    ['a body larger than 64 KiB', (jwk) => ({ ...fetchedAgo(1_000), body: JSON.stringify({ keys: [jwk], pad: 'x'.repeat(70 * 1024) }) })],
  ];

  it.for(broken)('an entry with %s is ignored: the issuer is asked and the request served', async ([, entry], ctx) => {
    const planted = await generateSigningKey('EdDSA', { kid: 'k1' });
    const key = await generateSigningKey('EdDSA', { kid: 'k1' });
    const server = await perTest(ctx).jwksServer({ keys: [key.jwk] });
    const pair = await pairs(ctx)(authBindings({ AUTH_JWKS_URL: server.url }));
    await pair.seed(server.url, [planted.jwk], entry(planted.jwk));
    expect(await pair.entry(server.url)).not.toBeNull();

    expectUserId(await me(pair.b, await mintToken(key, { sub: 'u' })), 'u');
    expect(server.hits).toBe(1);
  });

  it('control: the same planted key in a well-formed entry is used (so the cases above test the checks)', async (ctx) => {
    const planted = await generateSigningKey('EdDSA', { kid: 'k1' });
    const key = await generateSigningKey('EdDSA', { kid: 'k1' });
    const server = await perTest(ctx).jwksServer({ keys: [key.jwk] });
    const pair = await pairs(ctx)(authBindings({ AUTH_JWKS_URL: server.url }));
    await pair.seed(server.url, [planted.jwk], fetchedAgo(1_000));
    expectUserId(await me(pair.b, await mintToken(planted, { sub: 'planted' })), 'planted');
    expect(server.hits).toBe(0);
  });
});

// ------------------------------------------------------------------ measurement

const MEASURE = process.env.JWKS_CACHE_MEASURE === '1';

describe.runIf(MEASURE)("measurement: a fresh isolate's first /api/me, warm vs cold shared tier", () => {
  it('5 samples each', async () => {
    const delayMs = Number(process.env.JWKS_CACHE_ISSUER_DELAY_MS ?? 0);
    const samples = { cold: [], warm: [] };
    for (let i = 0; i < 5; i += 1) {
      for (const kind of ['cold', 'warm']) {
        const key = await generateSigningKey('EdDSA', { kid: 'k1' });
        const server = await startJwksServer({ keys: [key.jwk] });
        if (delayMs > 0) Object.assign(server, { mode: 'slow', delayMs });
        const pair = await startPair(authBindings({ AUTH_JWKS_URL: server.url }));
        try {
          if (kind === 'warm') {
            expectUserId(await me(pair.a, await mintToken(key, { sub: 'a' })), 'a');
            await pair.waitForEntry(server.url);
          } else {
            // The same process-level warm-up without filling the tier: workerd has
            // served a request and the Cache API's store is running.
            expect((await pair.a.fetch('/health')).status).toBe(200);
            expect(await pair.entry(server.url)).toBeNull();
          }
          const token = await mintToken(key, { sub: 'b' });
          const started = performance.now();
          const res = await me(pair.b, token);
          samples[kind].push(performance.now() - started);
          expectUserId(res, 'b');
          expect(server.hits).toBe(1);
        } finally {
          await pair.close();
          await server.close();
        }
      }
    }
    const fmt = (xs) => xs.map((x) => x.toFixed(1)).join(', ');
    const median = (xs) => [...xs].sort((p, q) => p - q)[2].toFixed(1);
    console.log(
      `issuer delay ${delayMs} ms — cold: [${fmt(samples.cold)}] ms (median ${median(samples.cold)}); ` +
        `warm: [${fmt(samples.warm)}] ms (median ${median(samples.warm)})`,
    );
  }, 120_000);
});
