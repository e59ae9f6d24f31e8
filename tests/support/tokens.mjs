// Signing keys and tokens: keys per algorithm with their public JWKs, tokens minted
// with jose's SignJWT, and compact JWS signed by hand for inputs jose refuses to
// produce (crit headers, string dates, weak RSA keys, a foreign `alg`, …). Claims
// default to the test issuer and audience; the benchmark overrides them.

import { constants as cryptoConstants, createHmac, generateKeyPairSync, KeyObject, sign as cryptoSign } from 'node:crypto';
import * as jose from 'jose';
import { TEST_AUDIENCE, TEST_ISSUER } from './bindings.mjs';

export const nowSeconds = () => Math.floor(Date.now() / 1000);

export function b64url(data) {
  return Buffer.from(typeof data === 'string' ? data : new Uint8Array(data)).toString('base64url');
}

/** Claims every accepted token needs, with `overrides` applied (`undefined` removes one). */
export function validClaims(overrides = {}) {
  const now = nowSeconds();
  return dropUndefined({
    iss: TEST_ISSUER,
    aud: TEST_AUDIENCE,
    sub: 'user-1',
    iat: now,
    exp: now + 300,
    ...overrides,
  });
}

/**
 * A signing key for `alg` ('EdDSA', 'ES256', 'ES512', 'RS256', 'PS256', 'RS384', …)
 * and its public JWK with `kid` and any extra JWK members (`use`, `alg`, `key_ops`).
 * Keys come from jose.generateKeyPair, except RSA keys below 2048 bits (`bits`), which
 * jose refuses to create and which come from node:crypto.
 * @param {string} alg
 * @param {{ kid?: string, bits?: number, jwk?: object }} [opts]
 */
export async function generateSigningKey(alg, { kid, bits, jwk: members = {} } = {}) {
  let pair;
  let publicJwk;
  if (bits !== undefined && bits < 2048) {
    pair = generateKeyPairSync('rsa', { modulusLength: bits });
    publicJwk = pair.publicKey.export({ format: 'jwk' });
  } else {
    pair = await jose.generateKeyPair(alg, bits ? { modulusLength: bits } : {});
    publicJwk = await jose.exportJWK(pair.publicKey);
  }
  const { privateKey, publicKey } = pair;
  return { alg, kid, privateKey, publicKey, jwk: dropUndefined({ ...publicJwk, kid, ...members }) };
}

/** An HS256 key: the UTF-8 bytes of `secret`, as the worker uses AUTH_JWT_SECRET. */
export function hmacKey(secret, { kid } = {}) {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  return { alg: 'HS256', kid, privateKey: bytes };
}

/**
 * A JWT minted with jose's SignJWT: `validClaims(claims)` as payload, header
 * `{alg, kid}` of the key plus `header`.
 */
export async function mintToken(key, claims = {}, header = {}) {
  const protectedHeader = dropUndefined({ alg: key.alg, kid: key.kid, ...header });
  const payload = validClaims(claims);
  if (key.privateKey instanceof KeyObject) return signCompact(key, protectedHeader, payload);
  return new jose.SignJWT(payload).setProtectedHeader(protectedHeader).sign(key.privateKey);
}

/**
 * A compact JWS built by hand: `header` and `payload` (objects, or strings used
 * verbatim) signed with `key` under `header.alg`, which need not be the key's own
 * algorithm (e.g. HS256 with an arbitrary secret, RS384 with an RSA key).
 */
export function signCompact(key, header, payload) {
  const text = (part) => (typeof part === 'string' ? part : JSON.stringify(part));
  const alg = typeof header === 'string' ? JSON.parse(header).alg : header.alg;
  const signingInput = `${b64url(text(header))}.${b64url(text(payload))}`;
  return `${signingInput}.${b64url(signBytes(alg, key.privateKey, Buffer.from(signingInput)))}`;
}

function signBytes(alg, privateKey, data) {
  const hmac = alg.match(/^HS(\d+)$/);
  if (hmac) return createHmac(`sha${hmac[1]}`, privateKey).update(data).digest();
  const keyObject = privateKey instanceof KeyObject ? privateKey : KeyObject.from(privateKey);
  // Case-insensitive, so that tokens with a misspelt `alg` ("eddsa") can be made.
  const hash = `sha${alg.slice(2)}`;
  switch (alg.slice(0, 2).toUpperCase()) {
    case 'ED':
      return cryptoSign(null, data, keyObject);
    case 'ES':
      return cryptoSign(hash, data, { key: keyObject, dsaEncoding: 'ieee-p1363' });
    case 'RS':
      return cryptoSign(hash, data, keyObject);
    case 'PS':
      return cryptoSign(hash, data, {
        key: keyObject,
        padding: cryptoConstants.RSA_PKCS1_PSS_PADDING,
        saltLength: Number(alg.slice(2)) / 8,
      });
    default:
      throw new Error(`signCompact cannot sign ${alg}`);
  }
}

function dropUndefined(object) {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));
}
