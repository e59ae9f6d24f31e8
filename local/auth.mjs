// A local Better Auth issuer: email + password sign-in and the JWT plugin, the same
// product the frontend uses in production, so tokens have the real claims, headers
// and JWKS. It shares the local stack's database (its own tables next to `tasks`).

import { betterAuth } from 'better-auth';
import { jwt } from 'better-auth/plugins';
import { getMigrations } from 'better-auth/db/migration';
import { toNodeHandler } from 'better-auth/node';

/** The JWT plugin's asymmetric algorithms (it never signs HS256). */
export const JWT_ALGORITHMS = ['EdDSA', 'ES256', 'ES512', 'RS256', 'PS256'];

/**
 * @param {{ baseURL: string, backend: { authPool(): object }, jwtAlg?: string, secret?: string }} options
 * @returns {Promise<{ auth: object, handler: (req, res) => Promise<void>, issuer: string, audience: string }>}
 */
export async function createAuth({ baseURL, backend, jwtAlg = 'EdDSA', secret }) {
  if (!JWT_ALGORITHMS.includes(jwtAlg)) {
    throw new Error(`unsupported JWT algorithm ${JSON.stringify(jwtAlg)}; use one of ${JWT_ALGORITHMS.join(', ')}`);
  }
  const keyPairConfig = jwtAlg === 'EdDSA' ? { alg: 'EdDSA', crv: 'Ed25519' } : { alg: jwtAlg };

  const auth = betterAuth({
    baseURL,
    secret: secret || process.env.BETTER_AUTH_SECRET || DEV_ONLY_SECRET,
    database: backend.authPool(),
    emailAndPassword: { enabled: true },
    // Test suites sign up many users from one address in quick succession.
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    // Expected failures (wrong passwords in tests) would otherwise print warnings.
    logger: { level: 'error' },
    plugins: [jwt({ jwks: { keyPairConfig } })],
  });

  const { runMigrations } = await getMigrations(auth.options);
  await runMigrations();

  // The JWT plugin's defaults: issuer and audience are both the base URL.
  return { auth, handler: toNodeHandler(auth), issuer: baseURL, audience: baseURL };
}
