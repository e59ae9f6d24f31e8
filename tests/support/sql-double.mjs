// A stand-in for Neon's SQL-over-HTTP endpoint on loopback, for the fault suites: it
// records every request the worker sends and answers as the test says (relay to the
// real local endpoint, fail, stall, reset).

import http from 'node:http';

/**
 * A stand-in for Neon's SQL endpoint on loopback. Every request is recorded in
 * `requests` ({ headers, text, json }) and answered by `double.respond(request)`, which
 * a test may replace at any time. It returns one of:
 *   'forward'                          → relayed to `forwardTo` and its answer returned
 *   { forward: true, delayMs, ... }    → relayed, answered after delayMs (status/body override the answer)
 *   { status, body, headers, delayMs } → this answer (body: string, or a value sent as JSON)
 *   'hang'                             → never answered
 *   'reset'                            → the connection is destroyed without an answer
 * Default: 'forward' when `forwardTo` is given, else a 500.
 */
export async function startSqlDouble({ forwardTo } = {}) {
  const sockets = new Set();
  const timers = new Set();
  const later = (ms) =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });
  const double = {
    url: '',
    requests: [],
    get hits() {
      return double.requests.length;
    },
    respond: () => (forwardTo ? 'forward' : { status: 500, body: { message: 'double: no answer configured' } }),
    close: null,
  };
  async function relay(request) {
    const headers = Object.fromEntries(
      Object.entries(request.headers).filter(([k]) => k.startsWith('neon-') || k === 'content-type'),
    );
    const res = await fetch(forwardTo, { method: 'POST', headers, body: request.text });
    return { status: res.status, body: await res.text(), headers: { 'content-type': res.headers.get('content-type') ?? 'application/json' } };
  }
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const text = Buffer.concat(chunks).toString('utf8');
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const request = { method: req.method, headers: req.headers, text, json };
    double.requests.push(request);
    try {
      let reply = await double.respond(request);
      if (reply === 'hang') return;
      if (reply === 'reset') {
        req.socket.destroy();
        return;
      }
      if (reply === 'forward') reply = { forward: true };
      let answer;
      if (reply.forward) {
        const relayed = await relay(request);
        answer = { ...relayed, ...Object.fromEntries(Object.entries(reply).filter(([k]) => ['status', 'body', 'headers'].includes(k))) };
      } else {
        answer = reply;
      }
      if (reply.delayMs) await later(reply.delayMs);
      if (res.destroyed || res.writableEnded) return;
      const body = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? null);
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json', ...answer.headers });
      res.end(body);
    } catch (err) {
      if (!res.headersSent) {
        res.writeHead(599, { 'content-type': 'text/plain' });
        res.end(`double failed: ${err?.message ?? err}`);
      }
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  double.url = `http://127.0.0.1:${server.address().port}/sql`;
  double.close = () =>
    new Promise((resolve) => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return double;
}
