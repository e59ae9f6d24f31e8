// Token verification at the worker's boundary (docs/configuration.md, docs/api.md, docs/token-policy.md), in workerd via
// Miniflare: what only the runtime can prove. WebCrypto for each algorithm (and RS256
// and PS256 on one RSA key), raw versus DER ECDSA signatures, RSA key import and size,
// Authorization headers as the runtime joins them, the runtime clock, embedded keys
// never trusted or fetched, configuration read from bindings, and each refusal
// (AuthError) mapped once to its 401 (RFC 6750 challenge and error_description).
//
// The combinations of token syntax and claims are tested natively, next to the code:
// src/auth/token.rs (Bearer extraction, compact-JWS syntax, the algorithm allowlist,
// crit/typ, signature lengths), src/auth/claims.rs (dates and skew, iss, aud, sub) and
// src/auth/jwk.rs (which published keys are usable, selection by kid).
//
// Workers here share one JWKS server; the JWKS cache is per worker (per isolate), so
// tests that depend on a particular key set or configuration start their own worker.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verify as cryptoVerify, KeyObject } from 'node:crypto';
import * as jose from 'jose';
import {
  authBindings,
  b64url,
  generateSigningKey,
  hmacKey,
  me,
  mintToken,
  nowSeconds,
  signCompact,
  startJwksServer,
  startWorker,
  TEST_DB_PASSWORD,
  TEST_ISSUER,
  validClaims,
  waitForRequestLog,
} from './harness.mjs';

/** The worker's HS256 secret (≥ 32 bytes) and another one nobody configured. */
const SECRET = 'hs256-secret-for-tests-0123456789-abcdef';
const OTHER_SECRET = 'a-different-secret-of-enough-length-9876543210';

// ------------------------------------------------------------------ requests

/** Every token sent and everything answered, for the leak check at the end. */
const sentTokens = new Set();
const answered = [];
const workers = [];

async function launch(bindings) {
  const worker = await startWorker(bindings);
  workers.push(worker);
  return worker;
}

/** GET /api/me with these request headers; the response, read and kept for the leak check. */
async function callMe(worker, headers) {
  const res = await me(worker, headers);
  answered.push(res.text, ...[...res.headers].map(([name, value]) => `${name}: ${value}`));
  return res;
}

/** GET /api/me with `Authorization: <scheme> <token>`. */
function presentToken(worker, token, scheme = 'Bearer') {
  sentTokens.add(token);
  return callMe(worker, { Authorization: `${scheme} ${token}` });
}

function challenge(description) {
  return `Bearer realm="api", error="invalid_token", error_description="${description}"`;
}

function expectAccepted(res, body) {
  expect(res.status, res.text).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.body).toEqual(body);
}

/** 401 for a presented token, with one of `descriptions` (RFC 6750 §3). */
function expectRejected(res, ...descriptions) {
  expect(res.status, res.text).toBe(401);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.body).toMatchObject({ status: 401, title: 'Unauthorized' });
  expect(descriptions.map(challenge)).toContain(res.headers.get('www-authenticate'));
}

/** 401 when no bearer credentials were offered: the bare challenge, no error. */
function expectNoCredentials(res) {
  expect(res.status, res.text).toBe(401);
  expect(res.headers.get('www-authenticate')).toBe('Bearer realm="api"');
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.body).toMatchObject({ status: 401 });
}

// ------------------------------------------------------------------ token surgery

const segments = (token) => token.split('.');
const decodeSegment = (segment) => Buffer.from(segment, 'base64url');

/** The same token with the signature bytes changed by `edit`. */
function withSignature(token, edit) {
  const [header, payload, signature] = segments(token);
  return `${header}.${payload}.${b64url(edit(Buffer.from(decodeSegment(signature))))}`;
}

/** DER `SEQUENCE { INTEGER r, INTEGER s }` from a JWS raw `r‖s` ECDSA signature. */
function rawEcdsaToDer(raw) {
  const integer = (bytes) => {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
    let value = bytes.subarray(start);
    if (value[0] & 0x80) value = Buffer.concat([Buffer.from([0]), value]);
    return Buffer.concat([Buffer.from([0x02, value.length]), value]);
  };
  const half = raw.length / 2;
  const body = Buffer.concat([integer(raw.subarray(0, half)), integer(raw.subarray(half))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

// ------------------------------------------------------------------ keys and workers

/** Keys in the shared JWKS, by role. */
const keys = {};
let jwksServer;
/** JWKS + HS256 secret: the worker most tests use. */
let main;
/** The same JWKS, no HS256 secret. */
let noSecret;

beforeAll(async () => {
  Object.assign(keys, {
    ed: await generateSigningKey('EdDSA', { kid: 'ed-1' }),
    es256: await generateSigningKey('ES256', { kid: 'es256-1' }),
    // Every optional member present and fitting: must still be accepted.
    es512: await generateSigningKey('ES512', {
      kid: 'es512-1',
      jwk: { alg: 'ES512', use: 'sig', key_ops: ['verify'] },
    }),
    rs256: await generateSigningKey('RS256', { kid: 'rs-1' }),
    ps256: await generateSigningKey('PS256', { kid: 'ps-1' }),
    // Published, but fits no allowed algorithm (docs/token-policy.md §3): 2047 bits still gives a
    // 256-byte signature, so only the key-size rule refuses it.
    rsa2047: await generateSigningKey('RS256', { kid: 'rsa-2047', bits: 2047 }),
    // Never published.
    attacker: await generateSigningKey('EdDSA', { kid: 'attacker-1' }),
    attackerEs256: await generateSigningKey('ES256', { kid: 'attacker-es' }),
    hs: hmacKey(SECRET),
  });
  const published = ['ed', 'es256', 'es512', 'rs256', 'ps256', 'rsa2047'];
  jwksServer = await startJwksServer({ keys: published.map((role) => keys[role].jwk) });
  main = await launch(authBindings({ AUTH_JWKS_URL: jwksServer.url, AUTH_JWT_SECRET: SECRET }));
  noSecret = await launch(authBindings({ AUTH_JWKS_URL: jwksServer.url }));
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.close()));
  await jwksServer?.close();
});

// ------------------------------------------------------------------ acceptance

describe('a valid token is accepted on /api/me', () => {
  it.each([
    ['EdDSA', 'ed'],
    ['ES256', 'es256'],
    ['ES512', 'es512'],
    ['RS256', 'rs256'],
    ['PS256', 'ps256'],
  ])('%s signed with a key from the JWKS', async (alg, role) => {
    expect(keys[role].alg).toBe(alg);
    const token = await mintToken(keys[role], { sub: `user-${alg}`, email: `${alg}@example.test`, name: `User ${alg}` });
    expectAccepted(await presentToken(main, token), {
      user_id: `user-${alg}`,
      email: `${alg}@example.test`,
      name: `User ${alg}`,
    });
  });

  it('RS256 and PS256 both work with one RSA key', async () => {
    // jose binds a CryptoKey to one algorithm, so this token is signed by hand.
    const pss = signCompact(keys.rs256, { alg: 'PS256', kid: 'rs-1' }, validClaims({ sub: 'pss-on-rs-key' }));
    expectAccepted(await presentToken(main, pss), { user_id: 'pss-on-rs-key' });
    const pkcs1 = signCompact(keys.ps256, { alg: 'RS256', kid: 'ps-1' }, validClaims({ sub: 'pkcs1-on-ps-key' }));
    expectAccepted(await presentToken(main, pkcs1), { user_id: 'pkcs1-on-ps-key' });
  });

  it('HS256 signed with the UTF-8 bytes of AUTH_JWT_SECRET', async () => {
    const token = await mintToken(keys.hs, { sub: 'user-hs', email: 'hs@example.test', name: 'User HS' });
    expectAccepted(await presentToken(main, token), { user_id: 'user-hs', email: 'hs@example.test', name: 'User HS' });
  });

  it('email and name are optional and only passed through when they are strings', async () => {
    expectAccepted(await presentToken(main, await mintToken(keys.ed, { sub: 'plain' })), { user_id: 'plain' });
    const odd = await mintToken(keys.ed, { sub: 'odd', email: 42, name: { first: 'x' } });
    expectAccepted(await presentToken(main, odd), { user_id: 'odd' });
  });

  it('numeric dates may be fractional (RFC 7519 NumericDate)', async () => {
    const now = Date.now() / 1000;
    const token = await mintToken(keys.ed, { sub: 'fractional', iat: now - 0.25, nbf: now - 0.5, exp: now + 120.5 });
    expectAccepted(await presentToken(main, token), { user_id: 'fractional' });
  });
});

// ------------------------------------------------------------------ §5.1 the header

describe('Authorization header: only `Bearer <token>`, one header, ≤ 8 KiB (§5.1)', () => {
  it('no Authorization header → 401 with the bare challenge `Bearer realm="api"`', async () => {
    expectNoCredentials(await callMe(main, {}));
  });

  it('two Authorization headers → 401, even when both carry the same valid token', async () => {
    const token = await mintToken(keys.ed);
    sentTokens.add(token);
    const headers = new Headers();
    headers.append('Authorization', `Bearer ${token}`);
    headers.append('Authorization', `Bearer ${token}`);
    expectRejected(await callMe(main, headers), 'malformed token');
  });

  it('a validly signed token over 8 KiB → 401 "token too large"', async () => {
    const token = await mintToken(keys.ed, { pad: 'x'.repeat(8 * 1024) });
    expect(token.length).toBeGreaterThan(8 * 1024);
    await expect(jose.jwtVerify(token, keys.ed.publicKey)).resolves.toBeTruthy();
    expectRejected(await presentToken(main, token), 'token too large');
  });

  it('a token just under 8 KiB is still accepted', async () => {
    const base = await mintToken(keys.ed, { sub: 'big', pad: '' });
    // base64url: 4 characters per 3 payload bytes.
    const room = Math.floor(((8 * 1024 - base.length - 8) * 3) / 4);
    const token = await mintToken(keys.ed, { sub: 'big', pad: 'x'.repeat(room) });
    expect(token.length).toBeLessThanOrEqual(8 * 1024);
    expect(token.length).toBeGreaterThan(8 * 1024 - 16);
    expectAccepted(await presentToken(main, token), { user_id: 'big' });
  });
});

// ------------------------------------------------------------------ §5.2 header policy

describe('JOSE header: alg in the allowlist, no crit, no embedded keys (§5.2)', () => {
  describe('with AUTH_ALGORITHMS=ES256', () => {
    let es256Only;
    beforeAll(async () => {
      es256Only = await launch(authBindings({ AUTH_JWKS_URL: jwksServer.url, AUTH_ALGORITHMS: 'ES256' }));
    });

    it('a valid EdDSA token from a published key → 401 "algorithm not allowed"', async () => {
      const token = await mintToken(keys.ed, { sub: 'eddsa-user' });
      // The same token passes where EdDSA is allowed.
      expectAccepted(await presentToken(main, token), { user_id: 'eddsa-user' });
      expectRejected(await presentToken(es256Only, token), 'algorithm not allowed');
    });

    it('a valid ES256 token is still accepted (control)', async () => {
      expectAccepted(await presentToken(es256Only, await mintToken(keys.es256, { sub: 'es-user' })), { user_id: 'es-user' });
    });
  });

  it('a `crit` header → 401 "unsupported critical header"', async () => {
    const token = signCompact(keys.ed, { alg: 'EdDSA', kid: 'ed-1', crit: ['exp'], exp: nowSeconds() + 60 }, validClaims());
    expectRejected(await presentToken(main, token), 'unsupported critical header');
    const empty = signCompact(keys.ed, { alg: 'EdDSA', kid: 'ed-1', crit: [] }, validClaims());
    expectRejected(await presentToken(main, empty), 'unsupported critical header');
  });

  it('`typ` other than JWT → 401 "unsupported token type"; `typ: JWT` is accepted', async () => {
    const other = await mintToken(keys.ed, {}, { typ: 'at+jwt' });
    expectRejected(await presentToken(main, other), 'unsupported token type');
    const jwt = await mintToken(keys.ed, { sub: 'typed' }, { typ: 'JWT' });
    expectAccepted(await presentToken(main, jwt), { user_id: 'typed' });
  });

  describe('a token naming its own key (jwk, jku, x5u) is not trusted', () => {
    let attackerServer;
    beforeAll(async () => {
      attackerServer = await startJwksServer({ keys: [keys.attacker.jwk, keys.attackerEs256.jwk] });
    });
    afterAll(() => attackerServer?.close());

    it('`jwk` with the attacker public key and no kid → 401 "invalid signature"', async () => {
      const token = await mintToken(keys.attacker, { sub: 'attacker' }, { kid: undefined, jwk: keys.attacker.jwk });
      // Self-consistent: it verifies with the key it carries.
      await expect(jose.jwtVerify(token, jose.EmbeddedJWK)).resolves.toBeTruthy();
      expectRejected(await presentToken(main, token), 'invalid signature');
    });

    it('`jwk` with the attacker key and the kid of a published key → 401 "invalid signature"', async () => {
      const token = await mintToken(keys.attacker, { sub: 'attacker' }, { kid: 'ed-1', jwk: keys.attacker.jwk });
      expectRejected(await presentToken(main, token), 'invalid signature');
    });

    it('`jwk` with the attacker key and its own kid → 401 "no matching key"', async () => {
      const token = await mintToken(keys.attacker, { sub: 'attacker' }, { jwk: keys.attacker.jwk });
      expectRejected(await presentToken(main, token), 'no matching key');
    });

    it('`jwk` of an ES256 attacker key → 401', async () => {
      const token = await mintToken(keys.attackerEs256, { sub: 'attacker' }, { kid: undefined, jwk: keys.attackerEs256.jwk });
      expectRejected(await presentToken(main, token), 'invalid signature');
    });

    it('`jku` pointing at the attacker JWKS → 401, and the attacker URL is never fetched', async () => {
      const hitsBefore = attackerServer.hits;
      const token = await mintToken(keys.attacker, { sub: 'attacker' }, { jku: attackerServer.url });
      expectRejected(await presentToken(main, token), 'no matching key');
      const noKid = await mintToken(keys.attacker, { sub: 'attacker' }, { kid: undefined, jku: attackerServer.url });
      expectRejected(await presentToken(main, noKid), 'invalid signature');
      expect(attackerServer.hits).toBe(hitsBefore);
    });

    it('`x5u` pointing at an attacker URL → 401, and the URL is never fetched', async () => {
      const hitsBefore = attackerServer.hits;
      const token = await mintToken(keys.attacker, { sub: 'attacker' }, { x5u: attackerServer.url });
      expectRejected(await presentToken(main, token), 'no matching key');
      const noKid = await mintToken(keys.attacker, { sub: 'attacker' }, { kid: undefined, x5u: attackerServer.url });
      expectRejected(await presentToken(main, noKid), 'invalid signature');
      expect(attackerServer.hits).toBe(hitsBefore);
    });
  });
});

// ------------------------------------------------------------------ §5.3 keys

describe('key selection from the JWKS (§5.3)', () => {
  it('an unknown kid → 401 "no matching key"', async () => {
    const token = await mintToken({ ...keys.ed, kid: 'no-such-kid' });
    expectRejected(await presentToken(main, token), 'no matching key');
  });

  describe('with two Ed25519 keys in the set', () => {
    let twoEd;
    let first;
    let second;
    let server;
    beforeAll(async () => {
      first = await generateSigningKey('EdDSA', { kid: 'twin-a' });
      second = await generateSigningKey('EdDSA', { kid: 'twin-b' });
      server = await startJwksServer({ keys: [first.jwk, second.jwk] });
      twoEd = await launch(authBindings({ AUTH_JWKS_URL: server.url }));
    });
    afterAll(() => server?.close());

    it('no kid → 401 "ambiguous key"', async () => {
      expectRejected(await presentToken(twoEd, await mintToken({ ...first, kid: undefined })), 'ambiguous key');
      expectRejected(await presentToken(twoEd, await mintToken({ ...second, kid: undefined })), 'ambiguous key');
    });

    it('with a kid each key is found (control)', async () => {
      expectAccepted(await presentToken(twoEd, await mintToken(first, { sub: 'a' })), { user_id: 'a' });
      expectAccepted(await presentToken(twoEd, await mintToken(second, { sub: 'b' })), { user_id: 'b' });
    });
  });

  it('ES256 token with the kid of an Ed25519 key (kty/crv mismatch) → 401 "key does not fit the algorithm"', async () => {
    const token = await mintToken({ ...keys.es256, kid: 'ed-1' });
    expectRejected(await presentToken(main, token), 'key does not fit the algorithm');
  });

  // The key signed the token itself: only its size makes it unfit.
  it('RSA key of 2047 bits (a full 256-byte signature) → 401 by the key-size rule', async () => {
    const token = await mintToken(keys.rsa2047);
    expect(decodeSegment(segments(token)[2]).length).toBe(256);
    expectRejected(await presentToken(main, token), 'no matching key', 'key does not fit the algorithm');
    expectRejected(await presentToken(main, await mintToken({ ...keys.rsa2047, alg: 'PS256' })), 'no matching key', 'key does not fit the algorithm');
  });
});

describe('algorithm confusion: HS256 only with the configured secret (§5.3)', () => {
  // The classic attack: sign HS256 with the issuer's *public* key as the HMAC secret.
  const publicSecrets = async () => ({
    'RSA public JWK JSON': JSON.stringify(keys.rs256.jwk),
    'RSA SPKI PEM': await jose.exportSPKI(keys.rs256.publicKey),
    'Ed25519 public JWK JSON': JSON.stringify(keys.ed.jwk),
    'Ed25519 SPKI PEM': await jose.exportSPKI(keys.ed.publicKey),
  });

  it('HS256 with the public key as secret, no secret configured → 401 "algorithm not allowed"', async () => {
    for (const [label, secret] of Object.entries(await publicSecrets())) {
      for (const kid of ['rs-1', 'ed-1', undefined]) {
        const token = await mintToken({ ...hmacKey(secret), kid }, { sub: `confused ${label}` });
        expectRejected(await presentToken(noSecret, token), 'algorithm not allowed');
      }
    }
  });

  it('HS256 with the public key as secret, another secret configured → 401 "invalid signature"', async () => {
    for (const [label, secret] of Object.entries(await publicSecrets())) {
      for (const kid of ['rs-1', 'ed-1', undefined]) {
        const token = await mintToken({ ...hmacKey(secret), kid }, { sub: `confused ${label}` });
        expectRejected(await presentToken(main, token), 'invalid signature');
      }
    }
  });

  it('a valid HS256 token when no secret is configured → 401 "algorithm not allowed"', async () => {
    const token = await mintToken(keys.hs, { sub: 'hs-user' });
    expectAccepted(await presentToken(main, token), { user_id: 'hs-user' });
    expectRejected(await presentToken(noSecret, token), 'algorithm not allowed');
  });

  it('HS256 signed with a different secret → 401 "invalid signature"', async () => {
    expectRejected(await presentToken(main, await mintToken(hmacKey(OTHER_SECRET))), 'invalid signature');
    // A prefix of the real secret is another secret too.
    expectRejected(await presentToken(main, await mintToken(hmacKey(SECRET.slice(0, 32)))), 'invalid signature');
  });
});

// ------------------------------------------------------------------ §5.4 signature

describe('signature checked by WebCrypto (§5.4)', () => {
  it('tampered payload (another sub, original signature) → 401 "invalid signature"', async () => {
    const token = await mintToken(keys.ed, { sub: 'victim' });
    const [header, , signature] = segments(token);
    const forged = `${header}.${b64url(JSON.stringify(validClaims({ sub: 'admin' })))}.${signature}`;
    expectRejected(await presentToken(main, forged), 'invalid signature');
  });

  it.each([
    ['EdDSA', 'ed'],
    ['ES256', 'es256'],
    ['ES512', 'es512'],
    ['RS256', 'rs256'],
    ['PS256', 'ps256'],
    ['HS256', 'hs'],
  ])('%s: one flipped signature bit → 401 "invalid signature"', async (alg, role) => {
    const token = await mintToken(keys[role]);
    const flipped = withSignature(token, (sig) => {
      sig[Math.floor(sig.length / 2)] ^= 0x01;
      return sig;
    });
    expectRejected(await presentToken(main, flipped), 'invalid signature');
  });

  it('RS256 signature with an extra byte (past the length rule, refused by WebCrypto) → 401 "invalid signature"', async () => {
    const token = await mintToken(keys.rs256);
    expectRejected(await presentToken(main, withSignature(token, (sig) => Buffer.concat([sig, Buffer.from([0])]))), 'invalid signature');
  });

  it('ES256 with a DER-encoded signature (not raw r‖s) → 401 "invalid signature"', async () => {
    const token = await mintToken(keys.es256, { sub: 'der' });
    const [header, payload, signature] = segments(token);
    const der = rawEcdsaToDer(decodeSegment(signature));
    // The DER form is a correct signature of the same input, just in the wrong encoding.
    const publicKey = KeyObject.from(keys.es256.publicKey);
    expect(cryptoVerify('sha256', Buffer.from(`${header}.${payload}`), { key: publicKey, dsaEncoding: 'der' }, der)).toBe(true);
    expectRejected(await presentToken(main, `${header}.${payload}.${b64url(der)}`), 'invalid signature');
  });
});

// ------------------------------------------------------------------ §5.5 claims

describe('claims: exp, nbf, iat with 30 s skew (§5.5)', () => {
  it('expired beyond the skew (exp = now − 60) → 401 "token expired"', async () => {
    const token = await mintToken(keys.ed, { exp: nowSeconds() - 60, iat: nowSeconds() - 120 });
    expectRejected(await presentToken(main, token), 'token expired');
  });

  it('expired within the skew (exp = now − 10) → accepted', async () => {
    const token = await mintToken(keys.ed, { sub: 'in-skew', exp: nowSeconds() - 10, iat: nowSeconds() - 120 });
    expectAccepted(await presentToken(main, token), { user_id: 'in-skew' });
  });

  it('nbf in the future beyond the skew (now + 60) → 401 "token not yet valid"; within it → accepted', async () => {
    expectRejected(await presentToken(main, await mintToken(keys.ed, { nbf: nowSeconds() + 60 })), 'token not yet valid');
    expectAccepted(await presentToken(main, await mintToken(keys.ed, { sub: 'nbf-ok', nbf: nowSeconds() + 10 })), { user_id: 'nbf-ok' });
  });

  it('iat in the future beyond the skew (now + 60) → 401 "token issued in the future"; within it → accepted', async () => {
    expectRejected(await presentToken(main, await mintToken(keys.ed, { iat: nowSeconds() + 60 })), 'token issued in the future');
    expectAccepted(await presentToken(main, await mintToken(keys.ed, { sub: 'iat-ok', iat: nowSeconds() + 10 })), { user_id: 'iat-ok' });
  });

  it('missing exp → 401 "missing exp"', async () => {
    expectRejected(await presentToken(main, await mintToken(keys.ed, { exp: undefined })), 'missing exp');
  });

  it('a payload that is not a JSON object → 401 "malformed claims"', async () => {
    for (const payload of ['[1,2,3]', '"user-1"', 'null']) {
      const token = signCompact(keys.ed, { alg: 'EdDSA', kid: 'ed-1' }, payload);
      expectRejected(await presentToken(main, token), 'malformed claims');
    }
  });
});

describe('claims: iss and aud (§5.5)', () => {
  it('wrong iss → 401 "wrong issuer"', async () => {
    for (const iss of ['https://evil.test', `${TEST_ISSUER}/`, TEST_ISSUER.toUpperCase()]) {
      expectRejected(await presentToken(main, await mintToken(keys.ed, { iss })), 'wrong issuer');
    }
  });

  it('aud not containing the audience → 401 "wrong audience"', async () => {
    for (const aud of ['other-api', ['other-api', 'more'], [], 'task-api ']) {
      expectRejected(await presentToken(main, await mintToken(keys.ed, { aud })), 'wrong audience');
    }
  });

});

describe('claims: sub is a non-empty string of at most 255 characters (§5.5)', () => {
  it('missing sub → 401 "invalid subject"', async () => {
    expectRejected(await presentToken(main, await mintToken(keys.ed, { sub: undefined })), 'invalid subject');
  });

});

// ------------------------------------------------------------------ §3 configuration

describe('invalid configuration fails closed with 500 (§3)', () => {
  const cases = [
    {
      name: 'AUTH_ISSUER missing',
      bindings: () => authBindings({ AUTH_ISSUER: undefined, AUTH_JWKS_URL: jwksServer.url }),
      variable: /AUTH_ISSUER/,
      secret: null,
    },
    {
      name: 'AUTH_JWT_SECRET shorter than 32 bytes',
      bindings: () => authBindings({ AUTH_JWKS_URL: jwksServer.url, AUTH_JWT_SECRET: 'short-secret-of-31-bytes-xxxxxx' }),
      variable: /AUTH_JWT_SECRET/,
      secret: 'short-secret-of-31-bytes-xxxxxx',
    },
    {
      name: 'neither AUTH_JWKS_URL nor AUTH_JWT_SECRET',
      bindings: () => authBindings(),
      variable: /AUTH_JWKS_URL|AUTH_JWT_SECRET/,
      secret: null,
    },
  ];

  it.each(cases)('$name → /api/me answers 500 problem+json, /health 200, the log names the variable', async (c) => {
    expect(Buffer.byteLength('short-secret-of-31-bytes-xxxxxx')).toBe(31);
    const worker = await launch(c.bindings());
    const tokens = [await mintToken(keys.ed, { sub: 'misconfigured' })];
    if (c.secret) tokens.push(await mintToken(hmacKey(c.secret), { sub: 'misconfigured' }));
    for (const token of tokens) {
      const res = await presentToken(worker, token);
      expect(res.status, res.text).toBe(500);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.body).toMatchObject({ status: 500 });
      expect(res.body.detail).toMatch(/misconfigured/i);
      if (c.secret) expect(res.text).not.toContain(c.secret);
    }
    // Without any token the answer is the same: configuration comes first.
    expect((await callMe(worker, {})).status).toBe(500);

    const health = await worker.fetch('/health');
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    const log = await waitForRequestLog(worker, tokens.length + 2);
    const meLines = log.filter((line) => line.route === '/api/me');
    expect(meLines.length).toBe(tokens.length + 1);
    for (const line of meLines) {
      expect(line.status).toBe(500);
      expect(line.reason).toMatch(c.variable);
    }
    if (c.secret) {
      for (const line of worker.logs) expect(line).not.toContain(c.secret);
    }
  });
});

// ------------------------------------------------------------------ §4, §5.7 no leaks

describe('tokens, secrets and connection strings never appear in responses or logs (§4, §5.7)', () => {
  it('a mix of accepted and refused tokens leaves no trace of them', async () => {
    const worker = await launch(authBindings({ AUTH_JWKS_URL: jwksServer.url, AUTH_JWT_SECRET: SECRET }));
    const valid = await mintToken(keys.ed, { sub: 'leak-check' });
    const requests = [
      valid,
      await mintToken(keys.hs, { sub: 'leak-check-hs' }),
      await mintToken(keys.ed, { exp: nowSeconds() - 600 }),
      withSignature(valid, (sig) => sig.reverse()),
      await mintToken(keys.ed, { pad: 'y'.repeat(9000) }),
      `${valid}=`,
      await mintToken(hmacKey(OTHER_SECRET)),
      await mintToken({ ...keys.ed, kid: 'unknown-kid-for-leaks' }),
    ];
    for (const token of requests) await presentToken(worker, token);
    await presentToken(worker, valid, 'Token');
    await waitForRequestLog(worker, requests.length + 1);

    const secrets = [SECRET, OTHER_SECRET, TEST_DB_PASSWORD];
    // Payload and signature segments alone are as sensitive as the whole token.
    const tokenParts = [...sentTokens].flatMap((token) => [token, ...segments(token).slice(1)]).filter((part) => part.length >= 24);
    expect(tokenParts.length).toBeGreaterThan(100);

    const logLines = workers.flatMap((w) => w.logs);
    expect(logLines.length).toBeGreaterThan(50);
    expect(answered.length).toBeGreaterThan(100);
    const leaks = [];
    for (const needle of [...secrets, ...tokenParts]) {
      for (const line of logLines) if (line.includes(needle)) leaks.push(`log: ${line}`);
      for (const text of answered) if (text.includes(needle)) leaks.push(`response: ${text}`);
    }
    expect(leaks).toEqual([]);
  });
});
