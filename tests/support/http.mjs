// Requests to a worker under test, read into one shape: { status, headers, text,
// body }, where `body` is the parsed JSON or null. `api()` for the task routes, `me()`
// for GET /api/me, `rawHttp()` for what fetch cannot send or cannot read, and a URL
// where nothing listens.

import http from 'node:http';
import net from 'node:net';

/** `text` parsed as JSON, or null when it is empty or not JSON. */
export function parseJsonOrNull(text) {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/** A fetch Response, read: { status, headers, text, body }. */
export async function readReply(res) {
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: parseJsonOrNull(text) };
}

/**
 * A request helper bound to one worker and one token (null: no Authorization header).
 * `body`: an object or array is sent as JSON with `Content-Type: application/json`; a
 * string or bytes are sent verbatim as bytes, so no Content-Type is added implicitly
 * (set one in `init.headers`). Headers given as `undefined` in `init.headers` are
 * removed. Answers are read with readReply.
 */
export function api(worker, token, { origin, headers: baseHeaders = {} } = {}) {
  return async function call(method, path, body, init = {}) {
    const headers = { ...baseHeaders };
    if (token) headers.authorization = `Bearer ${token}`;
    if (origin) headers.origin = origin;
    let payload;
    if (typeof body === 'string') payload = new TextEncoder().encode(body);
    else if (body instanceof Uint8Array) payload = body;
    else if (body !== undefined) {
      payload = new TextEncoder().encode(JSON.stringify(body));
      headers['content-type'] = 'application/json';
    }
    Object.assign(headers, init.headers);
    const res = await worker.fetch(path, {
      method,
      headers: Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)),
      body: payload,
    });
    return readReply(res);
  };
}

/**
 * GET /api/me, read with readReply. `credentials`: a token (sent as `Authorization:
 * Bearer <token>`), or request headers as given (an object or a Headers, e.g. with
 * two Authorization headers), or nothing.
 */
export async function me(worker, credentials) {
  const headers = typeof credentials === 'string' ? { Authorization: `Bearer ${credentials}` } : credentials;
  return readReply(await worker.fetch('/api/me', { headers }));
}

/** `{ status: how many }` of a batch of replies, for readable failures. */
export function statusCounts(replies) {
  const counts = {};
  for (const { status } of replies) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

/** A loopback URL where nothing listens (a port that was just free). */
export async function closedPortUrl(pathname = '/sql') {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}${pathname}`;
}

/**
 * One HTTP/1.1 request to the worker over a raw socket, written in a single write.
 * For bodies the worker refuses before reading them (413): workerd then closes the
 * connection with the body unread, which resets a client still sending — fetch
 * reports that as a failure and loses the answer, while this reads whatever answer
 * arrived before the reset. `chunked: true` sends the body with chunked transfer
 * encoding (no Content-Length). Returns { status, headers, text, body }.
 */
export async function rawHttp(worker, { method = 'GET', path: target, headers = {}, body = '', chunked = false }) {
  const entry = await worker.mf.ready;
  const payload = Buffer.from(body);
  const lines = [`${method} ${target} HTTP/1.1`, `Host: ${entry.host}`, 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  let wire;
  if (chunked) {
    lines.push('Transfer-Encoding: chunked');
    const parts = [];
    for (let at = 0; at < payload.length; at += 4096) {
      const piece = payload.subarray(at, at + 4096);
      parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
    }
    parts.push(Buffer.from('0\r\n\r\n'));
    wire = Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), ...parts]);
  } else {
    lines.push(`Content-Length: ${payload.length}`);
    wire = Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), payload]);
  }
  const received = await new Promise((resolve, reject) => {
    const chunks = [];
    const socket = net.connect(Number(entry.port), entry.hostname, () => socket.write(wire, () => {}));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('rawHttp: no complete answer within 15 s'));
    }, 15_000);
    socket.on('data', (chunk) => chunks.push(chunk));
    const done = () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    };
    socket.on('end', done);
    // A reset after the answer arrived is expected (see above); the answer is kept.
    socket.on('error', done);
    socket.on('close', done);
  });
  const split = received.indexOf('\r\n\r\n');
  if (split === -1) throw new Error(`rawHttp: no HTTP answer (${received.length} bytes received)`);
  const [statusLine, ...headerLines] = received.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  const responseHeaders = new Headers();
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    responseHeaders.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  let rest = received.subarray(split + 4);
  if (/chunked/i.test(responseHeaders.get('transfer-encoding') ?? '')) {
    const pieces = [];
    for (;;) {
      const eol = rest.indexOf('\r\n');
      if (eol === -1) break;
      const size = parseInt(rest.subarray(0, eol).toString('latin1'), 16);
      if (!size) break;
      pieces.push(rest.subarray(eol + 2, eol + 2 + size));
      rest = rest.subarray(eol + 2 + size + 2);
    }
    rest = Buffer.concat(pieces);
  } else if (responseHeaders.has('content-length')) {
    rest = rest.subarray(0, Number(responseHeaders.get('content-length')));
  }
  const text = rest.toString('utf8');
  return { status, headers: responseHeaders, text, body: parseJsonOrNull(text) };
}
