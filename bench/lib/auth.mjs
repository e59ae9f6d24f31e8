// Signing keys, a loopback JWKS server and tokens for the benchmark's user.

import http from 'node:http';
import { randomBytes } from 'node:crypto';
import * as jose from 'jose';

export const ISSUER = 'https://auth.bench.test';
export const AUDIENCE = 'https://auth.bench.test';
export const ASYMMETRIC = ['EdDSA', 'ES256', 'RS256'];
export const ALGORITHMS = [...ASYMMETRIC, 'HS256'];

/**
 * A key pair per asymmetric algorithm (each with its own `kid`) and an HS256 secret.
 * @returns {Promise<{ keys: Record<string, {kid:string, privateKey:CryptoKey}>, jwks: object[], secret: string }>}
 */
export async function makeKeys() {
  const keys = {};
  const jwks = [];
  for (const alg of ASYMMETRIC) {
    const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true });
    const kid = `bench-${alg.toLowerCase()}`;
    keys[alg] = { kid, privateKey };
    jwks.push({ ...(await jose.exportJWK(publicKey)), kid, alg, use: 'sig' });
  }
  return { keys, jwks, secret: randomBytes(32).toString('base64url') };
}

/** A token for `sub` signed with `alg`, header { alg, kid } as Better Auth writes it. */
export function mintToken({ keys, secret }, alg, sub, { ttl = '2h' } = {}) {
  const key = alg === 'HS256' ? new TextEncoder().encode(secret) : keys[alg].privateKey;
  const header = alg === 'HS256' ? { alg } : { alg, kid: keys[alg].kid };
  return new jose.SignJWT({ email: `${sub}@bench.test`, name: 'Bench User' })
    .setProtectedHeader(header)
    .setSubject(sub)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(ttl)
    .sign(key);
}

/**
 * Serves the JWKS at /<name>/jwks for any name and counts the requests per name, so
 * that each worker gets its own URL and its own count. Like Better Auth's JWKS route,
 * it sends no Cache-Control (so the workers' default cache period applies).
 */
export async function startJwksServer(jwks) {
  const hits = {};
  const server = http.createServer((req, res) => {
    const match = /^\/([\w-]+)\/jwks$/.exec(req.url);
    if (!match || req.method !== 'GET') {
      res.writeHead(404).end();
      return;
    }
    hits[match[1]] = (hits[match[1]] ?? 0) + 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: jwks }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    urlFor: (name) => `${base}/${name}/jwks`,
    hits: (name) => hits[name] ?? 0,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}
