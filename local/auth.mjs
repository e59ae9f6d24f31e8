// A local Better Auth issuer: email + password sign-in and the JWT plugin, the same
// product the frontend uses in production, so tokens have the real claims, headers
// and JWKS. It shares the local stack's database (its own tables next to `tasks`).

import { betterAuth } from 'better-auth';
import { symmetricDecrypt } from 'better-auth/crypto';
import { jwt } from 'better-auth/plugins';
import { getMigrations } from 'better-auth/db/migration';
import { toNodeHandler } from 'better-auth/node';

/** The JWT plugin's asymmetric algorithms (it never signs HS256). */
export const JWT_ALGORITHMS = ['EdDSA', 'ES256', 'ES512', 'RS256', 'PS256'];

/**
 * @param {{ baseURL: string, backend: { authPool(): object }, jwtAlg?: string, secret: string,
 *           jwtExpirationSeconds?: number, trustedOrigins?: string[],
 *           log?: (line: string) => void }} options
 *   secret: signs session cookies and encrypts the stored signing keys (required; the
 *   stack makes a random one). jwtExpirationSeconds: the tokens' lifetime (the JWT
 *   plugin's `expirationTime`; its default is 15 minutes). trustedOrigins: more
 *   origins than baseURL's from which browsers may sign in (the demo page under
 *   another loopback name).
 * @returns {Promise<{ auth: object, handler: (req, res) => Promise<void>, issuer: string, audience: string }>}
 */
export async function createAuth({
  baseURL,
  backend,
  jwtAlg = 'EdDSA',
  secret,
  jwtExpirationSeconds,
  trustedOrigins = [],
  log = (line) => console.log(line),
}) {
  if (typeof secret !== 'string' || secret === '') throw new Error('createAuth needs a secret');
  if (!JWT_ALGORITHMS.includes(jwtAlg)) {
    throw new Error(`unsupported JWT algorithm ${JSON.stringify(jwtAlg)}; use one of ${JWT_ALGORITHMS.join(', ')}`);
  }
  const keyPairConfig = jwtAlg === 'EdDSA' ? { alg: 'EdDSA', crv: 'Ed25519' } : { alg: jwtAlg };
  if (jwtExpirationSeconds !== undefined && !(Number.isInteger(jwtExpirationSeconds) && jwtExpirationSeconds > 0)) {
    throw new Error('jwtExpirationSeconds must be a positive whole number of seconds');
  }
  // A string: the plugin reads a number as an absolute `exp`, not a lifetime.
  const jwtOptions = jwtExpirationSeconds ? { expirationTime: `${jwtExpirationSeconds}s` } : {};

  const auth = betterAuth({
    baseURL,
    secret,
    database: backend.authPool(),
    emailAndPassword: { enabled: true },
    trustedOrigins,
    // Test suites sign up many users from one address in quick succession.
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    // Expected failures (wrong passwords in tests) would otherwise print warnings.
    logger: { level: 'error' },
    plugins: [jwt({ jwks: { keyPairConfig }, jwt: jwtOptions })],
  });

  const { runMigrations } = await getMigrations(auth.options);
  await runMigrations();

  const replaced = await dropKeysOfAnotherSecret(auth);
  if (replaced > 0) {
    // Better Auth would otherwise fail every token request with "Failed to decrypt
    // private key"; a fresh key pair is made now (the JWKS changes, so tokens signed
    // with the old keys no longer verify).
    await auth.api.getJwks();
    log(`[local-stack] replaced ${replaced} Better Auth signing key(s) that were encrypted with another secret`);
  }

  // The JWT plugin's defaults: issuer and audience are both the base URL.
  return { auth, handler: toNodeHandler(auth), issuer: baseURL, audience: baseURL };
}

/**
 * Deletes the stored signing keys this secret cannot decrypt (a database reused with a
 * new secret) and returns how many. The test is the plugin's own: its
 * symmetricDecrypt on the stored value with Better Auth's resolved secret config
 * (which also covers BETTER_AUTH_SECRETS rotation lists), where a wrong key fails the
 * XChaCha20-Poly1305 authentication tag.
 */
async function dropKeysOfAnotherSecret(auth) {
  const context = await auth.$context;
  const rows = await context.adapter.findMany({ model: 'jwks' });
  let dropped = 0;
  for (const row of rows ?? []) {
    try {
      await symmetricDecrypt({ key: context.secretConfig, data: JSON.parse(row.privateKey) });
    } catch {
      await context.adapter.delete({ model: 'jwks', where: [{ field: 'id', value: row.id }] });
      dropped += 1;
    }
  }
  return dropped;
}
