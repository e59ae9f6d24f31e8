// The benchmark's issuer: a signing key per algorithm and tokens for its user, made
// with the test harness's helpers (tests/support/tokens.mjs), and one JWKS server
// (tests/support/jwks-server.mjs) whose fetches are counted per worker.

import { randomBytes } from 'node:crypto';
import { startJwksServer as startSharedJwksServer } from '../../tests/support/jwks-server.mjs';
import { generateSigningKey, hmacKey, mintToken as mintTestToken, nowSeconds } from '../../tests/support/tokens.mjs';

export const ISSUER = 'https://auth.bench.test';
export const AUDIENCE = 'https://auth.bench.test';
export const ASYMMETRIC = ['EdDSA', 'ES256', 'RS256'];
export const ALGORITHMS = [...ASYMMETRIC, 'HS256'];
/** Tokens outlive any run (BENCH_MAX_MINUTES is far shorter). */
const TOKEN_LIFETIME_S = 2 * 60 * 60;

/**
 * A key pair per asymmetric algorithm (each with its own `kid`, its JWK marked
 * `alg` and `use: sig` as Better Auth publishes it) and an HS256 secret.
 * @returns {Promise<{ keys: Record<string, object>, jwks: object[], secret: string }>}
 */
export async function makeKeys() {
  const keys = {};
  for (const alg of ASYMMETRIC) {
    keys[alg] = await generateSigningKey(alg, { kid: `bench-${alg.toLowerCase()}`, jwk: { alg, use: 'sig' } });
  }
  const secret = randomBytes(32).toString('base64url');
  keys.HS256 = hmacKey(secret);
  return { keys, jwks: ASYMMETRIC.map((alg) => keys[alg].jwk), secret };
}

/** A token for `sub` signed with `alg`, header { alg, kid } and claims as Better Auth writes them. */
export function mintToken({ keys }, alg, sub) {
  const now = nowSeconds();
  return mintTestToken(keys[alg], {
    iss: ISSUER,
    aud: AUDIENCE,
    sub,
    email: `${sub}@bench.test`,
    name: 'Bench User',
    iat: now,
    exp: now + TOKEN_LIFETIME_S,
  });
}

/**
 * One JWKS server for every worker of the run: each gets its own URL (`urlFor(name)`)
 * and its own count (`hits(name)`), so the fetches are counted per isolate. Like
 * Better Auth's JWKS route, it sends no Cache-Control (the workers' default period applies).
 */
export async function startJwksServer(jwks) {
  const server = await startSharedJwksServer({ keys: jwks });
  return {
    urlFor: server.urlFor,
    hits: (name) => server.hitsOf(server.urlFor(name)),
    close: server.close,
  };
}
