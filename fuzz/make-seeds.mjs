// Writes fuzz/seeds/<target>/*: starting inputs drawn from the shapes the test suites
// use (tests/support/tokens.mjs, tests/db-faults.spec.mjs, the list and route specs),
// in each target's input layout (fuzz/src/lib.rs). Run once after changing a layout:
//   node fuzz/make-seeds.mjs
// The output is committed; runs grow their own corpus under fuzz/corpus/ (ignored).

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { b64url, generateSigningKey, signCompact, validClaims } from '../tests/support/tokens.mjs';

const SEEDS = fileURLToPath(new URL('./seeds/', import.meta.url));
const seeds = {};
const add = (target, ...bytes) => {
  (seeds[target] ??= []).push(Buffer.concat(bytes.map((b) => (typeof b === 'number' ? Buffer.from([b]) : Buffer.from(b)))));
};

// --- token: [allowlist mask] + Authorization header value
const keys = {};
for (const alg of ['EdDSA', 'ES256', 'ES512', 'RS256', 'PS256']) keys[alg] = await generateSigningKey(alg, { kid: `k-${alg}` });
const hmac = { alg: 'HS256', privateKey: Buffer.from('x'.repeat(32)) };
const tokens = [];
for (const key of Object.values(keys)) tokens.push(signCompact(key, { alg: key.alg, kid: key.kid }, validClaims()));
tokens.push(signCompact(keys.EdDSA, { alg: 'Ed25519', kid: 'k', typ: 'JWT' }, validClaims()));
tokens.push(signCompact(hmac, { alg: 'HS256' }, validClaims()));
tokens.push(signCompact(keys.EdDSA, { alg: 'EdDSA', crit: ['exp'] }, validClaims()));
tokens.push(signCompact(keys.EdDSA, { alg: 'EdDSA', typ: 'at+jwt' }, validClaims()));
tokens.push(`${b64url('{"alg":"none"}')}.${b64url('{}')}.`);
for (const t of tokens) {
  add('token', 0, `Bearer ${t}`);
  add('token', 0x01, `bearer  ${t}`);
  add('token', 0, t);
}
add('token', 0, 'Basic dXNlcjpwYXNz');

// --- claims: [skew][offset lo][offset hi] + payload
const NOW = 1_800_000_000;
const base = { iss: 'https://issuer.test', aud: 'task-api', sub: 'user-1', exp: NOW + 300 };
for (const claims of [
  base,
  { ...base, iat: NOW, nbf: NOW - 10, email: 'a@b.c', name: 'A' },
  { ...base, aud: ['other', 'task-api'] },
  { ...base, exp: NOW - 31 },
  { ...base, exp: NOW + 0.5 },
  { ...base, exp: String(NOW + 300) },
  { ...base, sub: 'é'.repeat(255) },
  { ...base, sub: '' },
  { ...base, nbf: 'soon' },
]) add('claims', 30 * 255 / 300, 0, 0, JSON.stringify(claims));
add('claims', 0, 0, 0, '{"sub":"a","sub":"b","exp":1900000000}');
add('claims', 0, 0, 0, '[1,2,3]');

// --- jwks: [allowlist mask][alg index][kid len | 255][kid] + body
const jwks = (...k) => JSON.stringify({ keys: k });
const pub = Object.values(keys).map((k) => k.jwk);
add('jwks', 0, 0, 7, 'k-EdDSA', jwks(...pub));
add('jwks', 0, 1, 255, jwks(keys.ES256.jwk));
add('jwks', 0, 0, 255, jwks(keys.EdDSA.jwk, { ...keys.EdDSA.jwk, kid: 'k2' }));
add('jwks', 0, 3, 6, 'k-RS256', jwks({ ...keys.RS256.jwk, alg: 'RS256', use: 'sig', key_ops: ['verify'] }));
add('jwks', 0, 0, 255, jwks({ ...keys.EdDSA.jwk, alg: 'Ed25519' }, { ...keys.ES256.jwk, use: 'enc' }, { kty: 'oct', k: 'c2VjcmV0' }));
add('jwks', 0, 2, 255, jwks(keys.ES512.jwk, { kty: 'EC', crv: 'secp256k1', x: 'AA', y: 'AA' }));
add('jwks', 0, 0, 255, '{"keys":[]}');

// --- neon_response: [mode] + body (mode % 3: 0 single, 1 batch of mode/3%4, 2 error)
const fields = [['id', 20], ['user_id', 25], ['title', 25], ['description', 25], ['completed', 16], ['created_at', 1184], ['updated_at', 1184]]
  .map(([name, dataTypeID]) => ({ name, dataTypeID }));
const row = ['9007199254740993', 'user-1', 'héllo 🌍', null, 'f', '2026-11-26 11:08:51.5+00', '2026-01-01 01:30:00.1+05:30'];
const result = { command: 'SELECT', rowCount: 1, fields, rows: [row] };
const prefix = { command: 'SELECT', rowCount: 1, fields: [{ name: 'set_config', dataTypeID: 25 }], rows: [['user-1']] };
add('neon_response', 0, JSON.stringify(result));
add('neon_response', 0, JSON.stringify({ ...result, rows: [], rowCount: 0, command: 'INSERT' }));
add('neon_response', 1 + 3 * 2, JSON.stringify({ results: [prefix, result] }));
add('neon_response', 1 + 3 * 1, JSON.stringify({ results: [{ fields: [], rows: [], command: 'DELETE', rowCount: 1 }] }));
add('neon_response', 2, JSON.stringify({ message: 'new row violates check constraint', code: '23514', constraint: 'tasks_title_length', severity: 'ERROR' }));
add('neon_response', 2, JSON.stringify({ message: 'boom' }));
add('neon_response', 0x82, '<html><body>Bad Gateway</body></html>');

// --- timestamp: text
for (const t of ['2026-11-26 11:08:51+00', '2026-11-26 11:08:51.123456+00', '2026-01-01 01:30:00.1+05:30', '2024-02-28 23:00:00-02',
  '1900-03-01 00:00:00+00:19:32', '2026-11-26T11:08:51.123456Z', '2024-02-29T23:59:59.999999Z', 'infinity', '0001-01-01 00:00:00+00 BC']) add('timestamp', t);

// --- task_body: [selector] + body (selector % 3: none/object/optional; / 3 % 3: json/none/text)
for (const body of [
  { title: '  Buy milk  ' },
  { title: 'x', description: null, completed: true },
  { title: 'x', description: 'é'.repeat(10), completed: false },
  { completed: true },
  { title: 5, description: [], completed: 'yes', id: 1, user_id: 'x', colour: 'red' },
  { title: 'a\u0000b' },
  {},
]) {
  add('task_body', 1, JSON.stringify(body));
  add('task_body', 2, JSON.stringify(body));
}
add('task_body', 2, '');
add('task_body', 1, '[1]');
add('task_body', 1, '{');
for (const id of ['1', '9223372036854775807', '01', '9223372036854775808']) add('task_body', 0, id);

// --- list_query: the query string
const cursor = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
for (const q of [
  '', 'status=pending&sort=title&order=asc&q=m%C3%BClk&limit=100&utm=x', 'status=completed&q=a+b&limit=2&sort=updated_at',
  'limit=0', 'limit=+5', 'cursor=%%%', 'limit=5&limit=6', 'q=a%00',
  `cursor=${cursor({ s: 'created_at', o: 'desc', v: '2026-11-26T11:08:51.123456Z', i: 9 })}`,
  `sort=title&order=asc&cursor=${cursor({ s: 'title', o: 'asc', v: 'b&c', i: 7 })}`,
  `sort=updated_at&order=asc&cursor=${cursor({ s: 'updated_at', o: 'asc', v: '2026-11-26T12:00:00.000000Z', i: 3 })}`,
]) add('list_query', 0, q);
for (const [q, c] of [
  ['', { s: 'created_at', o: 'desc', v: '2026-11-26T11:08:51.123456Z', i: 9 }],
  ['sort=title&order=asc', { s: 'title', o: 'asc', v: 'b&c', i: 7 }],
  ['sort=updated_at&order=asc&limit=3', { s: 'updated_at', o: 'asc', v: '2026-11-26T12:00:00.000000Z', i: 3 }],
]) add('list_query', 1, `${q}\n${JSON.stringify(c)}`);

// --- route: [method index] + path (GET POST PUT PATCH DELETE OPTIONS HEAD get)
for (const [m, p] of [[0, '/health'], [0, '/openapi.json'], [0, '/api/me'], [1, '/api/tasks'], [2, '/api/tasks/42'],
  [3, '/api/tasks/42/complete'], [4, '/api/user%20one/tasks/7'], [0, '/api/me/tasks'], [0, '/api/%FF/tasks'], [4, '/api/tasks'],
  [0, '//health'], [0, '/api/tasks/'], [7, '/health'], [0, '/api/tasks?limit=5#x']]) add('route', m, p);

rmSync(SEEDS, { recursive: true, force: true });
for (const [target, list] of Object.entries(seeds)) {
  mkdirSync(`${SEEDS}${target}`, { recursive: true });
  for (const bytes of list) {
    writeFileSync(`${SEEDS}${target}/${createHash('sha1').update(bytes).digest('hex')}`, bytes);
  }
}
console.log(Object.entries(seeds).map(([t, l]) => `${t}: ${l.length}`).join(', '));
