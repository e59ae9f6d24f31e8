// What a worker under test is configured with: the test issuer and audience, a
// database password that must never leak, and the two binding sets the suites use
// (auth only, or pointed at a local stack).

export const TEST_ISSUER = 'https://issuer.test';
export const TEST_AUDIENCE = 'task-api';

/** A password placed in DATABASE_URL that must never appear in logs or responses. */
export const TEST_DB_PASSWORD = 'pw-never-log-this-7f3a';

const TEST_DATABASE_URL = `postgresql://tester:${TEST_DB_PASSWORD}@db.local.test/tasks`;

/**
 * Bindings for a worker that verifies tokens of TEST_ISSUER/TEST_AUDIENCE. `extra`
 * adds or overrides variables; a variable given as `undefined` is left out.
 */
export function authBindings(extra = {}) {
  const all = {
    AUTH_ISSUER: TEST_ISSUER,
    AUTH_AUDIENCE: TEST_AUDIENCE,
    DATABASE_URL: TEST_DATABASE_URL,
    // Nothing listens there: /api/me needs no database.
    NEON_SQL_ENDPOINT: 'http://127.0.0.1:9/sql',
    ...extra,
  };
  return Object.fromEntries(Object.entries(all).filter(([, value]) => value !== undefined));
}

/** Bindings that point a worker at a local stack (its SQL endpoint, JWKS and issuer). */
export function stackBindings(stack, extra = {}) {
  return {
    AUTH_ISSUER: stack.issuer,
    AUTH_AUDIENCE: stack.audience,
    AUTH_JWKS_URL: stack.jwksUrl,
    // The local endpoint ignores the credentials; the worker still sends them as Neon
    // would receive them, so a leak of this value in logs would be caught by tests.
    DATABASE_URL: TEST_DATABASE_URL,
    NEON_SQL_ENDPOINT: stack.sqlUrl,
    ...extra,
  };
}
