// Tokens from the real Better Auth (the local stack's issuer, README) accepted by the
// built worker: sign up, fetch /api/auth/token with the session cookie, call /api/me.
// Once with the default EdDSA (Ed25519) keys and once with a stack signing ES256.
// Runs on PGlite by default, on PostgreSQL with TEST_BACKEND=postgres.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { backendName, me, signUpAndGetToken, stackBindings, startLocalStack, startWorker } from './harness.mjs';

/** Per algorithm: the stack issuing it and a worker trusting that stack. */
const setups = {};

beforeAll(async () => {
  const start = async (jwtAlg, options) => {
    const stack = await startLocalStack(options);
    try {
      const worker = await startWorker(stackBindings(stack));
      setups[jwtAlg] = { stack, worker };
    } catch (err) {
      await stack.close();
      throw err;
    }
  };
  // The default stack (EdDSA) and a second one configured for ES256.
  const started = await Promise.allSettled([start('EdDSA', {}), start('ES256', { jwtAlg: 'ES256' })]);
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
});

afterAll(async () => {
  await Promise.all(Object.values(setups).flatMap(({ stack, worker }) => [worker.close(), stack.close()]));
});

describe.each(['EdDSA', 'ES256'])(`Better Auth signing %s (${backendName()})`, (jwtAlg) => {
  it('a signed-up user\'s token from /api/auth/token → 200 with user_id = the Better Auth user id', async () => {
    const { stack, worker } = setups[jwtAlg];
    const { token, userId, email } = await signUpAndGetToken(stack, { name: 'Ada Lovelace' });

    // Really the issuer's algorithm and key id, and the claims the worker relies on.
    const header = jose.decodeProtectedHeader(token);
    expect(header.alg).toBe(jwtAlg);
    expect(header.kid).toBeTruthy();
    const claims = jose.decodeJwt(token);
    expect(claims).toMatchObject({ sub: userId, iss: stack.issuer });

    const res = await me(worker, token);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ user_id: userId, email, name: 'Ada Lovelace' });
  });

  it('each user gets their own id, and the JWKS is fetched once for all of them', async () => {
    const { stack, worker } = setups[jwtAlg];
    const users = [];
    for (let i = 0; i < 3; i += 1) users.push(await signUpAndGetToken(stack, { name: `User ${i}` }));
    expect(new Set(users.map((u) => u.userId)).size).toBe(3);
    for (const user of users) {
      const res = await me(worker, user.token);
      expect(res.status, res.text).toBe(200);
      expect(res.body.user_id).toBe(user.userId);
    }
    // One worker, one isolate: one JWKS fetch in this whole file for this stack.
    expect(stack.stats.jwks).toBe(1);
  });

  it('a Better Auth token with its payload changed to another user → 401 "invalid signature"', async () => {
    const { stack, worker } = setups[jwtAlg];
    const victim = await signUpAndGetToken(stack);
    const attacker = await signUpAndGetToken(stack);
    const [header, , signature] = attacker.token.split('.');
    const claims = { ...jose.decodeJwt(attacker.token), sub: victim.userId };
    const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    const res = await me(worker, forged);
    expect(res.status, res.text).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      'Bearer realm="api", error="invalid_token", error_description="invalid signature"',
    );
  });

  it('the Better Auth session cookie alone is not a credential → 401 without error', async () => {
    const { stack, worker } = setups[jwtAlg];
    const { cookie } = await signUpAndGetToken(stack);
    const res = await me(worker, { Cookie: cookie });
    expect(res.status, res.text).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="api"');
  });
});

describe('a worker trusts only its own issuer', () => {
  it('a valid token from the EdDSA stack is refused by the worker of the ES256 stack, and vice versa', async () => {
    for (const [from, to] of [
      ['EdDSA', 'ES256'],
      ['ES256', 'EdDSA'],
    ]) {
      const { token } = await signUpAndGetToken(setups[from].stack);
      expect((await me(setups[from].worker, token)).status).toBe(200);
      const res = await me(setups[to].worker, token);
      expect(res.status, res.text).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="api", error="invalid_token", error_description="[^"]+"$/);
    }
  });
});
