// A JWKS server on loopback: the issuer's key set as the workers fetch it, with
// faults a test can switch on between requests, and request counts per URL so that
// several workers can share one server and still be told apart (the benchmark does).

import http from 'node:http';

/**
 * Serves `{ keys }` at `url` (and at any other path, e.g. `urlFor(name)`), and counts
 * the requests it gets: `hits` in all, `hitsOf(url)` for one path.
 *   mode: 'ok' | 'error' (HTTP 500) | 'slow' (answers after `delayMs`) | 'redirect'
 *         (302 to a valid JWKS at /redirected) | 'huge' (a JWKS above 64 KiB) | 'malformed'
 * `keys`, `cacheControl`, `mode` and `delayMs` may be changed at any time. Like Better
 * Auth's JWKS route, it sends no Cache-Control unless `cacheControl` is set.
 */
export async function startJwksServer({ keys = [], cacheControl } = {}) {
  const state = { keys, cacheControl, mode: 'ok', delayMs: 8000, hits: 0 };
  const hitsByPath = new Map();
  const server = http.createServer((req, res) => {
    if (req.url === '/redirected') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: state.keys }));
      return;
    }
    state.hits += 1;
    const pathname = new URL(req.url, 'http://jwks.test').pathname;
    hitsByPath.set(pathname, (hitsByPath.get(pathname) ?? 0) + 1);
    const send = (status, body, headers = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body);
    };
    const cc = state.cacheControl ? { 'cache-control': state.cacheControl } : {};
    switch (state.mode) {
      case 'ok':
        return send(200, JSON.stringify({ keys: state.keys }), cc);
      case 'error':
        return send(500, '{"error":"boom"}');
      case 'slow':
        return setTimeout(() => send(200, JSON.stringify({ keys: state.keys })), state.delayMs);
      case 'redirect':
        return send(302, '', { location: '/redirected' });
      case 'huge': {
        const padding = { kty: 'oct', k: 'x'.repeat(70 * 1024) };
        return send(200, JSON.stringify({ keys: [...state.keys, padding] }));
      }
      case 'malformed':
        return send(200, '{"keys": [ not json');
      default:
        throw new Error(`unknown mode ${state.mode}`);
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return Object.assign(state, {
    url: `${base}/jwks`,
    /** A URL of its own for `name` (one per worker, so each worker's fetches are counted apart). */
    urlFor: (name) => `${base}/${encodeURIComponent(name)}/jwks`,
    /** Requests to the path of `url` (one returned by `url` or `urlFor`). */
    hitsOf: (url) => hitsByPath.get(new URL(url).pathname) ?? 0,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  });
}
