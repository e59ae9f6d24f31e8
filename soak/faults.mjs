// The two fault injectors of the soak: a proxy in front of the SQL endpoint and an
// issuer (JWKS + token minting) whose JWKS can go away and whose key can rotate.
//
// SQL proxy faults (in a window, each request is hit with probability `rate`):
//   latency   forwarded at once, answered after 5.5–7 s (past the worker's 5 s
//             deadline: the statement ran, the worker answers 503) — or, for a third
//             of them, after 0.5–2 s (slow but in time)
//   5xx       502 without forwarding (not run), or 500 after forwarding (ran)
//   drop      connection destroyed before forwarding (not run) or after (ran)
//   truncate  forwarded, then half the body sent and the connection destroyed (ran)
// The statement is always forwarded before any delay, so the database applies
// statements in the order the worker sent them; the audit relies on that.
//
// Adding a fault: a case in `decide()` and its name in the schedule (run.mjs).

import http from 'node:http';
import { generateSigningKey, mintToken } from '../tests/support/tokens.mjs';

const pick = (list) => list[Math.floor(Math.random() * list.length)];
const between = (lo, hi) => lo + Math.random() * (hi - lo);

export async function startSqlProxy({ forwardTo }) {
  const state = { mode: 'ok', rate: 0.5, counts: {}, forwarded: 0, pending: 0 };
  const sockets = new Set();
  const count = (what) => (state.counts[what] = (state.counts[what] ?? 0) + 1);

  async function forward(headers, body) {
    state.forwarded += 1;
    const res = await fetch(forwardTo, { method: 'POST', headers, body });
    return { status: res.status, type: res.headers.get('content-type') ?? 'application/json', body: Buffer.from(await res.arrayBuffer()) };
  }

  function decide() {
    if (state.mode === 'ok' || Math.random() >= state.rate) return 'pass';
    switch (state.mode) {
      case 'latency':
        return Math.random() < 2 / 3 ? 'late' : 'slow';
      case '5xx':
        return pick(['502-before', '500-after']);
      case 'drop':
        return pick(['drop-before', 'drop-after']);
      case 'truncate':
        return 'truncate';
      default:
        throw new Error(`unknown SQL fault ${state.mode}`);
    }
  }

  const server = http.createServer(async (req, res) => {
    state.pending += 1;
    try {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('neon-') || k === 'content-type'));
      const fault = decide();
      count(fault);
      if (fault === 'drop-before') return void req.socket.destroy();
      if (fault === '502-before') {
        res.writeHead(502, { 'content-type': 'text/html' });
        return void res.end('<html>Bad Gateway</html>');
      }
      const answer = await forward(headers, Buffer.concat(chunks));
      if (fault === 'drop-after') return void req.socket.destroy();
      if (fault === '500-after') {
        res.writeHead(500, { 'content-type': 'application/json' });
        return void res.end('{"message":"proxy: internal error"}');
      }
      if (fault === 'late') await new Promise((r) => setTimeout(r, between(5500, 7000)));
      if (fault === 'slow') await new Promise((r) => setTimeout(r, between(500, 2000)));
      if (res.destroyed) return;
      res.writeHead(answer.status, { 'content-type': answer.type, 'content-length': answer.body.length });
      if (fault === 'truncate') {
        res.write(answer.body.subarray(0, Math.floor(answer.body.length / 2)));
        return void setTimeout(() => req.socket.destroy(), 10);
      }
      res.end(answer.body);
    } catch {
      if (!res.headersSent) res.writeHead(599).end();
    } finally {
      state.pending -= 1;
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(state, {
    url: `http://127.0.0.1:${server.address().port}/sql`,
    /** Resolves once no proxied request is in flight (late answers included). */
    async drained(timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      while (state.pending > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      return state.pending === 0;
    },
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(r);
      }),
  });
}

/**
 * The token issuer: signs tokens for the soak's users and serves its JWKS. `down`
 * makes the JWKS endpoint destroy every connection (gone, as a dead host looks);
 * `rotate()` starts signing with a new key, which the JWKS lists (with the old one,
 * as issuers do during a rotation) from then on.
 */
export async function startIssuer({ issuer, audience }) {
  const keys = [await generateSigningKey('EdDSA', { kid: 'soak-1' })];
  const state = { down: false, hits: 0, refused: 0, rotatedAt: null };
  const server = http.createServer((req, res) => {
    state.hits += 1;
    if (state.down) {
      state.refused += 1;
      return void req.socket.destroy();
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: keys.map((k) => k.jwk) }));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const tokens = new Map(); // `${kid}:${sub}` → token
  return Object.assign(state, {
    jwksUrl: `http://127.0.0.1:${server.address().port}/jwks`,
    kid: () => keys.at(-1).kid,
    async rotate() {
      keys.push(await generateSigningKey('EdDSA', { kid: `soak-${keys.length + 1}` }));
      state.rotatedAt = Date.now();
    },
    /** A token for `sub`, signed with the current key (minted once per key and user). */
    async token(sub) {
      const key = keys.at(-1);
      const cacheKey = `${key.kid}:${sub}`;
      if (!tokens.has(cacheKey)) tokens.set(cacheKey, await mintToken(key, { iss: issuer, aud: audience, sub, exp: Math.floor(Date.now() / 1000) + 3600 }));
      return tokens.get(cacheKey);
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
  });
}
