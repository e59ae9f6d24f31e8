// The figures derived from the measured cells (what verifying a token adds, JWKS
// fetches, SQL round trips per request) and the verdicts against the budgets of
// docs/benchmarks.md. Pure functions of bench/run.mjs's results; report.mjs formats them.

import { ALGORITHMS } from './auth.mjs';

/** JWKS cache period of both workers when the JWKS response has no Cache-Control. */
export const JWKS_CACHE_PERIOD_S = 600;
/** docs/benchmarks.md: worker upload, gzip. */
export const UPLOAD_BUDGET_KIB = 200;
/** docs/benchmarks.md: CPU per request against the previous release, built from its commit in the same run. */
export const BASELINE_CPU_LIMIT = 1.1;

/**
 * me − health per algorithm and worker: what verifying the token adds, per
 * concurrency (p50, p99, and the same differences round by round) and in CPU.
 */
export function verificationOverhead(figs, concurrencies) {
  const health = figs.find((f) => f.id === 'health');
  return ALGORITHMS.map((alg) => {
    const me = figs.find((f) => f.id === `me-${alg}`);
    const diff = (kind) => {
      const d = { cpuUsPerReq: me.cells[kind].cpuUsPerReq - health.cells[kind].cpuUsPerReq };
      for (const conc of concurrencies) {
        const [m, h] = [me.cells[kind][conc], health.cells[kind][conc]];
        d[conc] = {
          p50: m.summary.p50 - h.summary.p50,
          p99: m.summary.p99 - h.summary.p99,
          // The same difference within each round (both measured minutes apart at most).
          roundsP50: m.rounds.map((r, i) => r.p50 - h.rounds[i].p50),
          roundsP99: m.rounds.map((r, i) => r.p99 - h.rounds[i].p99),
        };
      }
      return d;
    };
    return { alg, ours: diff('ours'), peer: diff('peer') };
  });
}

/**
 * JWKS fetches per worker: during the measured runs (per 1000 requests with an
 * asymmetric token) and over the worker's whole life until the last measurement.
 * `ctx`: { jwksServer, workers, lastMeasuredAt } of bench/run.mjs.
 */
export function jwksFigures(ctx, figs) {
  const out = {};
  for (const kind of ['ours', 'peer']) {
    const asymmetric = figs.filter((f) => f.cells[kind] && f.alg && f.alg !== 'HS256');
    const measuredHits = asymmetric.reduce((n, f) => n + f.cells[kind].jwks, 0);
    const measuredRequests = asymmetric.reduce((n, f) => n + f.cells[kind].requests, 0);
    out[kind] = {
      measuredHits,
      measuredRequests,
      per1000: (measuredHits / measuredRequests) * 1000,
      totalHits: ctx.jwksServer.hits(kind),
      lifetimeS: (ctx.lastMeasuredAt - ctx.workers[kind].startedAt) / 1000,
    };
  }
  return out;
}

/** SQL requests per API request, per route group and worker, with the count expected. */
export function neonFigures(figs) {
  const groups = [
    { label: 'GET /health', ids: ['health'], expected: 0 },
    { label: 'GET /api/me (all algs)', ids: ALGORITHMS.map((a) => `me-${a}`), expected: 0 },
    { label: 'GET /api/tasks', ids: ['list'], expected: 1 },
    { label: 'POST /api/tasks', ids: ['create'], expected: 1 },
    { label: 'PATCH /api/tasks/{id}', ids: ['update'], expected: 1 },
    { label: 'PATCH …/complete', ids: ['toggle'], expected: 1 },
  ];
  return groups.map(({ label, ids, expected }) => {
    const row = { label, expected };
    for (const kind of ['ours', 'peer']) {
      const fs_ = figs.filter((f) => ids.includes(f.id) && f.cells[kind]);
      if (!fs_.length) continue;
      const sqlCount = fs_.reduce((n, f) => n + f.cells[kind].sql, 0);
      const requests = fs_.reduce((n, f) => n + f.cells[kind].requests, 0);
      row[kind] = { sql: sqlCount, requests, perRequest: sqlCount / requests };
    }
    return row;
  });
}

/** Ratios that miss their limit by less than this share are within this machine's noise. */
const NOISE = 0.1;

/**
 * One verdict per budget of docs/benchmarks.md: { figure, value, budget, holds, note? }.
 * `holds` is null when the figure was not measured.
 */
export function verdicts(results) {
  const out = [];
  const fmt = (v) => `${v.toFixed(3)} ms`;
  const us = (v) => `${Math.round(v)} µs`;
  // A ratio failing its limit by less than the noise (for ≤ budgets; ≥ budgets mirror it).
  const noteAtMost = (r, limit) => (r > limit && r <= limit * (1 + NOISE) ? 'within the ~10% noise of this machine' : undefined);
  const noteAtLeast = (r, limit) => (r < limit && r >= limit * (1 - NOISE) ? 'within the ~10% noise of this machine' : undefined);
  const fig = (id) => results.figures.find((x) => x.id === id);

  const eddsa = results.overhead.find((o) => o.alg === 'EdDSA');
  const range = (values) => `per-round ${Math.min(...values).toFixed(3)} to ${Math.max(...values).toFixed(3)} ms`;
  out.push({
    figure: 'token verification overhead, EdDSA, p50 (me − health, c=1)',
    value: fmt(eddsa.ours[1].p50),
    budget: '≤ 0.15 ms',
    holds: eddsa.ours[1].p50 <= 0.15,
    note: range(eddsa.ours[1].roundsP50),
  });
  out.push({
    figure: 'token verification overhead, EdDSA, p99 (me − health, c=1)',
    value: fmt(eddsa.ours[1].p99),
    budget: '≤ 0.5 ms',
    holds: eddsa.ours[1].p99 <= 0.5,
    note: range(eddsa.ours[1].roundsP99),
  });
  for (const q of ['p50', 'p99']) {
    const ours = eddsa.ours[1][q];
    const peer = eddsa.peer[1][q];
    out.push({
      figure: `verification overhead vs jose worker, EdDSA, ${q} (c=1)`,
      value: `ours ${fmt(ours)}, peer ${fmt(peer)}`,
      budget: 'ours ≤ peer',
      holds: ours <= peer,
      note: noteAtMost(ours / peer, 1.0),
    });
  }

  // workerd CPU per request against the peer (pooled over both concurrencies).
  for (const [id, limit] of [['health', 1.25], ['me-EdDSA', 1.0], ['list', 0.8], ['create', 1.0], ['update', 1.0]]) {
    const f = fig(id);
    if (!f?.cells.peer) {
      out.push({ figure: `workerd CPU per request vs peer, ${id}`, value: 'not measured', budget: `≤ ${limit.toFixed(2)}× peer`, holds: null });
      continue;
    }
    const ours = f.cells.ours.cpuUsPerReq;
    const peer = f.cells.peer.cpuUsPerReq;
    const r = ours / peer;
    out.push({
      figure: `workerd CPU per request, ${f.label} (c=1 and c=32 pooled)`,
      value: `ours ${us(ours)}, peer ${us(peer)} = ${r.toFixed(2)}×`,
      budget: `≤ ${limit.toFixed(2)}× peer`,
      holds: r <= limit,
      note: noteAtMost(r, limit),
    });
  }

  for (const c of results.coldStart ?? []) {
    const r = c.ours.medianMs / c.peer.medianMs;
    out.push({
      figure: `first response of a fresh isolate, ${c.label}`,
      value: `ours ${fmt(c.ours.medianMs)}, peer ${fmt(c.peer.medianMs)} = ${r.toFixed(2)}× (median of ${c.ours.samples.length})`,
      budget: '≤ 1.50× peer',
      holds: r <= 1.5,
      note: noteAtMost(r, 1.5),
    });
  }

  for (const id of ['me-EdDSA', 'list']) {
    const f = fig(id);
    const ours = f.cells.ours[32].summary.rps;
    const peer = f.cells.peer[32].summary.rps;
    const r = ours / peer;
    out.push({
      figure: `requests per second at c=32, ${f.label}`,
      value: `ours ${Math.round(ours)}, peer ${Math.round(peer)} = ${r.toFixed(2)}×`,
      budget: '≥ 1.00× peer',
      holds: r >= 1.0,
      note: noteAtLeast(r, 1.0),
    });
  }

  const j = results.jwks.ours;
  const allowed = Math.max(1, Math.ceil(j.lifetimeS / JWKS_CACHE_PERIOD_S));
  out.push({
    figure: 'JWKS fetches of our isolate under steady load',
    value: `${j.totalHits} in ${Math.round(j.lifetimeS)} s (${j.per1000.toFixed(2)} per 1000 measured requests)`,
    budget: `≤ 1 per cache period (${JWKS_CACHE_PERIOD_S} s without Cache-Control) → ≤ ${allowed}`,
    holds: j.totalHits <= allowed,
  });
  for (const n of results.neon) {
    if (!n.ours) continue;
    out.push({
      figure: `Neon round trips per request, ${n.label}`,
      value: `${n.ours.perRequest.toFixed(3)} (${n.ours.sql} for ${n.ours.requests} requests)`,
      budget: `exactly ${n.expected}`,
      holds: n.ours.sql === n.expected * n.ours.requests,
    });
  }
  out.push({
    figure: 'upload size (wrangler deploy --dry-run, gzip)',
    value: `${results.upload.ours.gzipKiB} KiB`,
    budget: `≤ ${UPLOAD_BUDGET_KIB} KiB`,
    holds: results.upload.ours.gzipKiB <= UPLOAD_BUDGET_KIB,
  });
  const s = results.scale;
  out.push(
    s.skipped
      ? { figure: 'list p99, 10 000 vs 10 users × 100 tasks', value: 'not measured', budget: 'ratio ≤ 1.5', holds: null, note: s.skipped }
      : {
          figure: `list p99, ${s.largeUsers} vs ${s.smallUsers} users × 100 tasks (c=1)`,
          value: `${s.large.p99.toFixed(3)} / ${s.small.p99.toFixed(3)} ms = ${s.p99Ratio.toFixed(2)}`,
          budget: 'ratio ≤ 1.5',
          holds: s.p99Ratio <= 1.5,
          note: s.largeUsers < 10_000 ? 'BENCH_QUICK: fewer users than the budget names' : undefined,
        },
  );

  // The cost of what this release added (RLS, ETag, idempotency), per request and route.
  if (results.baseline) {
    const rev = results.baseline.commit.slice(0, 12);
    for (const f of results.figures.filter((x) => x.cells.base)) {
      const ours = f.cells.ours;
      const base = f.cells.base;
      const r = ours.cpuUsPerReq / base.cpuUsPerReq;
      out.push({
        figure: `cost vs previous release (${rev}), ${f.label}`,
        value:
          `CPU ours ${us(ours.cpuUsPerReq)}, base ${us(base.cpuUsPerReq)} = ${r.toFixed(2)}×; ` +
          `p50 c=1 ${fmt(ours[1].summary.p50)} vs ${fmt(base[1].summary.p50)} = ${(ours[1].summary.p50 / base[1].summary.p50).toFixed(2)}×`,
        budget: `CPU ≤ ${BASELINE_CPU_LIMIT.toFixed(2)}× base (p50 reported)`,
        holds: r <= BASELINE_CPU_LIMIT,
        note: noteAtMost(r, BASELINE_CPU_LIMIT),
      });
    }
  }
  return out;
}
