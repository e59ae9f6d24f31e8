// The JWKS cache of the worker (docs/token-policy.md §6): one fetch shared by concurrent requests,
// at most one refresh per 30 s cooldown for unknown kids, last good keys kept when a
// refresh fails, 503 + Retry-After when no keys can be had, unusable keys ignored, and
// HS256 independent of the JWKS.
//
// The cache lives in the isolate, i.e. in one Miniflare instance: every test that
// needs a cold cache starts its own worker and its own JWKS server.

import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import * as jose from 'jose';
import {
  authBindings,
  closedPortUrl,
  expectUnavailable,
  generateSigningKey,
  hmacKey,
  me,
  mintToken,
  perTest,
  sleep,
  statusCounts,
  waitForRequestLog,
} from './harness.mjs';

const SECRET = 'jwks-suite-hs256-secret-0123456789abcdef';
/** The refresh cooldown of docs/token-policy.md §6; not configurable, so tests wait it out. */
const COOLDOWN_MS = 30_000;

function expectUserId(res, userId) {
  expect(res.status, res.text).toBe(200);
  expect(res.body).toEqual({ user_id: userId });
}

function expectNoMatchingKey(res) {
  expect(res.status, res.text).toBe(401);
  expect(res.headers.get('www-authenticate')).toBe(
    'Bearer realm="api", error="invalid_token", error_description="no matching key"',
  );
}

// ------------------------------------------------------------------ one fetch

describe('requests share one JWKS fetch per cache period (§5.6)', () => {
  it('50 concurrent and then 50 sequential requests → exactly one JWKS fetch', async (ctx) => {
    const { jwksServer, worker } = perTest(ctx);
    const key = await generateSigningKey('EdDSA', { kid: 'k1' });
    const server = await jwksServer({ keys: [key.jwk] });
    const w = await worker(authBindings({ AUTH_JWKS_URL: server.url }));
    const tokens = await Promise.all(Array.from({ length: 100 }, (_, i) => mintToken(key, { sub: `user-${i}` })));

    const concurrent = await Promise.all(tokens.slice(0, 50).map((token) => me(w, token)));
    expect(statusCounts(concurrent), 'statuses of the 50 concurrent requests').toEqual({ 200: 50 });
    concurrent.forEach((res, i) => expectUserId(res, `user-${i}`));
    for (let i = 50; i < 100; i += 1) expectUserId(await me(w, tokens[i]), `user-${i}`);

    expect(server.hits).toBe(1);
  });

  it('once the keys are cached, 50 concurrent requests are all answered without another fetch', async (ctx) => {
    const { jwksServer, worker } = perTest(ctx);
    const key = await generateSigningKey('ES256', { kid: 'k1' });
    const server = await jwksServer({ keys: [key.jwk] });
    const w = await worker(authBindings({ AUTH_JWKS_URL: server.url }));
    expectUserId(await me(w, await mintToken(key, { sub: 'warm-up' })), 'warm-up');

    const tokens = await Promise.all(Array.from({ length: 50 }, (_, i) => mintToken(key, { sub: `user-${i}` })));
    const responses = await Promise.all(tokens.map((token) => me(w, token)));
    expect(statusCounts(responses)).toEqual({ 200: 50 });
    responses.forEach((res, i) => expectUserId(res, `user-${i}`));
    expect(server.hits).toBe(1);
  });

  it('`Cache-Control: max-age=0` does not make every request fetch (freshness has a floor)', async (ctx) => {
    const { jwksServer, worker } = perTest(ctx);
    const key = await generateSigningKey('ES256', { kid: 'k1' });
    const server = await jwksServer({ keys: [key.jwk], cacheControl: 'max-age=0, no-cache' });
    const w = await worker(authBindings({ AUTH_JWKS_URL: server.url }));
    for (let i = 0; i < 20; i += 1) expectUserId(await me(w, await mintToken(key, { sub: 'u' })), 'u');
    expect(server.hits).toBe(1);
  });

  it('unknown kids on a cold cache → one fetch in all, not one per request', async (ctx) => {
    const { jwksServer, worker } = perTest(ctx);
    const key = await generateSigningKey('EdDSA', { kid: 'known' });
    const server = await jwksServer({ keys: [key.jwk] });
    const w = await worker(authBindings({ AUTH_JWKS_URL: server.url }));
    const forged = (i) => mintToken({ ...key, kid: `made-up-${i}` });

    const burst = await Promise.all(Array.from({ length: 20 }, async (_, i) => me(w, await forged(i))));
    expect(statusCounts(burst), 'statuses of the 20 concurrent requests').toEqual({ 401: 20 });
    burst.forEach(expectNoMatchingKey);
    for (let i = 20; i < 30; i += 1) expectNoMatchingKey(await me(w, await forged(i)));

    expect(server.hits).toBe(1);
    expectUserId(await me(w, await mintToken(key, { sub: 'still-fine' })), 'still-fine');
    expect(server.hits).toBe(1);
  });
});

// ------------------------------------------------------------------ cooldown, rotation

// Two tests with real 30 s waits, on separate workers and servers: run side by side.
describe.concurrent('unknown kid: at most one refresh per 30 s cooldown (§5.6, real waits)', () => {
  it('an unknown kid after the cooldown triggers one refresh, and no more inside the next cooldown', async (ctx) => {
    const { jwksServer, worker } = perTest(ctx);
    const keyA = await generateSigningKey('EdDSA', { kid: 'A' });
    const server = await jwksServer({ keys: [keyA.jwk] });
    const w = await worker(authBindings({ AUTH_JWKS_URL: server.url }));
    const unknown = await mintToken({ ...keyA, kid: 'unknown' });

    expectUserId(await me(w, await mintToken(keyA, { sub: 'a' })), 'a');
    expect(server.hits).toBe(1);

    await sleep(COOLDOWN_MS + 1_000);
    expectNoMatchingKey(await me(w, unknown));
    expect(server.hits, 'one refresh for the unknown kid').toBe(2);

    for (let i = 0; i < 5; i += 1) expectNoMatchingKey(await me(w, unknown));
    (await Promise.all(Array.from({ length: 10 }, () => me(w, unknown)))).forEach(expectNoMatchingKey);
    expect(server.hits, 'no further refresh inside the cooldown').toBe(2);
    expectUserId(await me(w, await mintToken(keyA, { sub: 'a' })), 'a');
    expect(server.hits).toBe(2);
  }, 60_000);

  it('rotation: a new kid is picked up after the cooldown; a failed refresh keeps the last good keys and leaves the new kid unjudged (503)', async (ctx) => {
    const { jwksServer, worker } = perTest(ctx);
    const keyA = await generateSigningKey('EdDSA', { kid: 'A' });
    const keyB = await generateSigningKey('EdDSA', { kid: 'B' });
    const server = await jwksServer({ keys: [keyA.jwk] });
    const w = await worker(authBindings({ AUTH_JWKS_URL: server.url }));
    const tokenA = await mintToken(keyA, { sub: 'user-a' });
    const tokenB = await mintToken(keyB, { sub: 'user-b' });

    // t0: the first request fetches the set {A}.
    expectUserId(await me(w, tokenA), 'user-a');
    expect(server.hits).toBe(1);

    // The issuer rotates in B; still inside the cooldown that started with the first fetch.
    server.keys = [keyA.jwk, keyB.jwk];
    expectNoMatchingKey(await me(w, tokenB));
    expect(server.hits, 'no refresh inside the cooldown of the first fetch').toBe(1);

    // The JWKS breaks; after the cooldown an unknown kid may refresh, which fails: the
    // held keys may just be out of date, so the token cannot be judged (503, not 401).
    server.mode = 'error';
    await sleep(COOLDOWN_MS + 1_000);
    expectUnavailable(await me(w, tokenB));
    expect(server.hits, 'one refresh attempt, which failed').toBe(2);
    expectUserId(await me(w, tokenA), 'user-a'); // last good keys still in use
    expect(server.hits).toBe(2);

    // The JWKS is back, but the failed attempt started a new cooldown.
    server.mode = 'ok';
    for (let i = 0; i < 3; i += 1) expectUnavailable(await me(w, tokenB));
    expect(server.hits, 'cooldown counts from the failed attempt').toBe(2);

    await sleep(COOLDOWN_MS + 1_000);
    expectUserId(await me(w, tokenB), 'user-b');
    expect(server.hits, 'the rotated key came with one refresh').toBe(3);
    expectUserId(await me(w, tokenA), 'user-a');
    expect(server.hits).toBe(3);
  }, 120_000);
});

// ------------------------------------------------------------------ no keys → 503

describe('no usable keys on a cold cache → 503 with Retry-After, never 200, never a hang (§5.6)', () => {
  const failures = [
    ['unreachable (connection refused)', null],
    ['slower than the 5 s timeout', 'slow'],
    ['redirecting (302 to a valid JWKS)', 'redirect'],
    ['larger than 64 KiB', 'huge'],
    ['malformed JSON', 'malformed'],
    ['answering HTTP 500', 'error'],
  ];

  it.for(failures)('JWKS %s → 503', async ([, mode], ctx) => {
    const { jwksServer, worker } = perTest(ctx);
    const key = await generateSigningKey('EdDSA', { kid: 'k1' });
    const server = await jwksServer({ keys: [key.jwk] });
    server.mode = mode ?? 'ok';
    server.delayMs = 8_000;
    const url = mode === null ? await closedPortUrl('/jwks') : server.url;
    const w = await worker(authBindings({ AUTH_JWKS_URL: url }));
    const token = await mintToken(key, { sub: 'u' });

    const started = Date.now();
    const res = await me(w, token);
    const elapsed = Date.now() - started;
    expectUnavailable(res);
    // Not a performance figure: the request must end (5 s JWKS deadline + slack).
    expect(elapsed).toBeLessThan(7_500);
    if (mode !== null) expect(server.hits).toBeGreaterThanOrEqual(1);

    const [line] = (await waitForRequestLog(w, 1)).filter((l) => l.route === '/api/me');
    expect(line.status).toBe(503);
    expect(line.reason).toBeTruthy();
  }, 20_000);

  it('the same key set served with a 302 is refused, while served directly it works (control)', async (ctx) => {
    const { jwksServer, worker } = perTest(ctx);
    const key = await generateSigningKey('EdDSA', { kid: 'k1' });
    const server = await jwksServer({ keys: [key.jwk] });
    server.mode = 'redirect';
    const redirected = await worker(authBindings({ AUTH_JWKS_URL: server.url }));
    expectUnavailable(await me(redirected, await mintToken(key, { sub: 'u' })));
    const direct = await worker(authBindings({ AUTH_JWKS_URL: server.url.replace(/\/jwks$/, '/redirected') }));
    expectUserId(await me(direct, await mintToken(key, { sub: 'u' })), 'u');
  });
});

// (That a 503 is not sticky once the 5 s failure memory has passed: auth-hardening.spec.)

// ------------------------------------------------------------------ unusable keys

describe('keys that fit no allowed algorithm are ignored, not an error (§5.6)', () => {
  it('X25519, secp256k1, `use: enc`, RSA 1024 and junk entries next to a good key', async (ctx) => {
    const { jwksServer, worker } = perTest(ctx);
    const good = await generateSigningKey('EdDSA', { kid: 'good' });
    const encKey = await generateSigningKey('EdDSA', { kid: 'enc', jwk: { use: 'enc' } });
    const rsa1024 = await generateSigningKey('RS256', { kid: 'rsa-1024', bits: 1024 });
    const x25519 = await jose.exportJWK((await jose.generateKeyPair('ECDH-ES', { crv: 'X25519' })).publicKey);
    const secp256k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ format: 'jwk' });
    const server = await jwksServer({
      keys: [
        { ...x25519, kid: 'x25519' },
        { ...secp256k1, kid: 'secp256k1', alg: 'ES256K' },
        encKey.jwk,
        rsa1024.jwk,
        { kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0', kid: 'oct' },
        { kty: 'OKP', crv: 'Ed25519', kid: 'no-x' },
        { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA', kid: 'short-coords' },
        { kid: 'no-kty' },
        'not a key',
        good.jwk,
      ],
    });
    const w = await worker(authBindings({ AUTH_JWKS_URL: server.url }));

    expectUserId(await me(w, await mintToken(good, { sub: 'with-kid' })), 'with-kid');
    // Without a kid, the good key is the only one that fits EdDSA.
    expectUserId(await me(w, await mintToken({ ...good, kid: undefined }, { sub: 'no-kid' })), 'no-kid');
    // The ignored keys verify nothing.
    const byEnc = await me(w, await mintToken(encKey));
    expect(byEnc.status).toBe(401);
    const byWeak = await me(w, await mintToken(rsa1024));
    expect(byWeak.status).toBe(401);
    expect(server.hits).toBe(1);
  });
});

// ------------------------------------------------------------------ HS256

describe('HS256 does not depend on the JWKS (§5.6)', () => {
  it('with AUTH_JWKS_URL unreachable, HS256 tokens are accepted while JWKS tokens get 503', async (ctx) => {
    const { worker } = perTest(ctx);
    const w = await worker(authBindings({ AUTH_JWKS_URL: await closedPortUrl('/jwks'), AUTH_JWT_SECRET: SECRET }));
    const hs = hmacKey(SECRET);
    expectUserId(await me(w, await mintToken(hs, { sub: 'hs-1' })), 'hs-1');

    const ed = await generateSigningKey('EdDSA', { kid: 'k1' });
    expectUnavailable(await me(w, await mintToken(ed, { sub: 'ed' })));

    for (let i = 0; i < 5; i += 1) expectUserId(await me(w, await mintToken(hs, { sub: `hs-${i}` })), `hs-${i}`);
    // And a bad HS256 token is still a 401, not a 503.
    const wrong = await me(w, await mintToken(hmacKey(`${SECRET}-not`), { sub: 'x' }));
    expect(wrong.status).toBe(401);
  });
});
