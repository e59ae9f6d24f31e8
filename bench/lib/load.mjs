// A closed-loop keep-alive load client: `concurrency` connections, each sending its
// next request as soon as the previous response has been read completely, and every
// request timed on its own with process.hrtime.bigint(). No correction for
// coordinated omission is applied (and none is needed for a closed loop: the numbers
// are the latencies the requests actually had).

import http from 'node:http';

/**
 * @param {string|URL} baseUrl  the worker's direct socket, e.g. http://127.0.0.1:40123
 * @param {{
 *   concurrency?: number, requests: number, maxMs?: number,
 *   path: string | ((i: number) => string), method?: string,
 *   headers?: Record<string,string>, body?: string | ((i: number) => string),
 *   expectStatus?: number,
 * }} opts
 *   Stops after `requests` requests or `maxMs` milliseconds, whichever comes first.
 * @returns {Promise<{ samples: Float64Array, count: number, sent: number, durationMs: number,
 *   errors: number, statuses: Record<string, number>, firstError?: string }>}
 *   samples: latency of each request (ms) that got a response (count of them), in
 *   completion order; sent: requests sent; errors: those without a response or with
 *   another status than expectStatus.
 */
export async function load(baseUrl, { concurrency = 1, requests, maxMs = 60_000, path, method = 'GET', headers = {}, body, expectStatus = 200 }) {
  const url = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const samples = new Float64Array(requests);
  const statuses = {};
  let count = 0;
  let next = 0;
  let errors = 0;
  let failed = 0; // requests that got no response at all
  let firstError;
  const pathOf = typeof path === 'function' ? path : () => path;
  const headersOf = typeof headers === 'function' ? headers : () => headers;
  const bodyOf = typeof body === 'function' ? body : () => body;

  const started = process.hrtime.bigint();
  const deadline = started + BigInt(maxMs) * 1_000_000n;

  async function connectionLoop() {
    while (next < requests && process.hrtime.bigint() < deadline) {
      const i = next++;
      const payload = bodyOf(i);
      const t0 = process.hrtime.bigint();
      try {
        const status = await send(agent, url, method, pathOf(i), headersOf(i), payload);
        samples[count++] = Number(process.hrtime.bigint() - t0) / 1e6;
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status !== expectStatus) {
          errors += 1;
          firstError ??= `HTTP ${status} for ${method} ${pathOf(i)}`;
        }
      } catch (err) {
        errors += 1;
        failed += 1;
        firstError ??= `${err?.code ?? err?.message ?? err} for ${method} ${pathOf(i)}`;
      }
    }
  }

  await Promise.all(Array.from({ length: concurrency }, connectionLoop));
  const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
  agent.destroy();
  return { samples: samples.subarray(0, count), count, sent: count + failed, durationMs, errors, statuses, firstError };
}

function send(agent, url, method, path, headers, payload) {
  return new Promise((resolve, reject) => {
    const allHeaders = { ...headers };
    if (payload !== undefined) allHeaders['content-length'] = Buffer.byteLength(payload);
    const req = http.request(
      { agent, host: url.hostname, port: url.port, method, path, headers: allHeaders },
      (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve(res.statusCode));
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('request timed out after 30 s')));
    req.on('error', reject);
    req.end(payload);
  });
}

/** The q-th percentile (0–100) of `values`, nearest-rank on a sorted copy. */
export function percentile(values, q) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.ceil((q / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Pools several load() results (rounds of one cell) into one. */
export function pool(results) {
  const total = results.reduce((n, r) => n + r.count, 0);
  const samples = new Float64Array(total);
  let offset = 0;
  for (const r of results) {
    samples.set(r.samples, offset);
    offset += r.count;
  }
  const statuses = {};
  for (const r of results) for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  return {
    samples,
    count: total,
    sent: results.reduce((n, r) => n + r.sent, 0),
    durationMs: results.reduce((n, r) => n + r.durationMs, 0),
    errors: results.reduce((n, r) => n + r.errors, 0),
    statuses,
    firstError: results.find((r) => r.firstError)?.firstError,
  };
}

/** p50/p99 (ms) and req/s of a (pooled) result. */
export function summarize(result) {
  return {
    requests: result.count,
    errors: result.errors,
    p50: percentile(result.samples, 50),
    p99: percentile(result.samples, 99),
    rps: result.count / (result.durationMs / 1000),
  };
}
