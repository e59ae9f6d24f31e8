// The model against a bench run, for what this machine can measure: CPU per request,
// Neon round trips per request, list latency at 10 vs 10 000 users, JWKS fetches per
// isolate. `importBench` turns bench/results/latest.json (npm run bench) into the same
// shape as measured/bench-2026-11-26.json and commits-worthy measured/bench-validation.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as M from './model.mjs';

const here = dirname(fileURLToPath(import.meta.url));

/** The figures of the Rust worker from one bench run, in the model's units. */
export function normalizeBench(latest) {
  const fig = (id) => latest.figures.find((f) => f.id === id)?.cells.ours;
  const c1 = (id) => {
    const cell = fig(id)?.[1];
    return cell ? { cpu: cell.cpuUs / cell.requests, p50: cell.summary.p50, p99: cell.summary.p99 } : null;
  };
  const c32cpu = (id) => {
    const cell = fig(id)?.[32];
    return cell ? cell.cpuUs / cell.requests : null;
  };
  const ids = { health: 'health', me_eddsa: 'me-EdDSA', me_hs256: 'me-HS256', list_50: 'list', create: 'create', toggle: 'toggle' };
  const cpu = {}, latency = {};
  for (const [k, id] of Object.entries(ids)) {
    const x = c1(id);
    if (!x) continue;
    cpu[k] = [Math.round(x.cpu), Math.round(c32cpu(id))];
    latency[k] = { p50: +x.p50.toFixed(3), p99: +x.p99.toFixed(3) };
  }
  const neon = {};
  for (const row of latest.neon) {
    const key = row.label.includes('/health') ? 'health' : row.label.includes('/api/me') ? 'me' : row.label.includes('POST') ? 'create' : row.label.includes('complete') ? 'toggle' : 'list';
    if (row.ours) neon[key] = +row.ours.perRequest.toFixed(4);
  }
  const s = latest.scale;
  return {
    what: 'npm run bench figures of the Rust worker (bench/results/latest.json), imported by npm run simulate -- --import-bench',
    date: latest.date.slice(0, 10),
    machine: `${latest.machine.nproc}-core ${latest.machine.cpuModel}, Linux ${latest.machine.kernel}, Node ${latest.machine.node}, ${latest.database}`,
    command: 'npm run bench',
    cpu_us_per_request: cpu,
    latency_ms_c1: latency,
    neon_round_trips_per_request: neon,
    verify_overhead_eddsa_ms_c1: (() => {
      const o = latest.overhead?.find((x) => x.alg === 'EdDSA')?.ours?.[1];
      return o ? { p50: +o.p50.toFixed(3), p99: +o.p99.toFixed(3) } : null;
    })(),
    jwks: { fetches_per_isolate: latest.jwks.ours.totalHits, isolate_life_s: +latest.jwks.ours.lifetimeS.toFixed(0) },
    list_table_size_c1: s && !s.skipped
      ? { small_users: s.smallUsers, large_users: s.largeUsers, small: { p50: s.small.p50, p99: s.small.p99 }, large: { p50: s.large.p50, p99: s.large.p99 } }
      : null,
  };
}

export function importBench(path) {
  const out = join(here, 'measured', 'bench-validation.json');
  writeFileSync(out, JSON.stringify(normalizeBench(JSON.parse(readFileSync(path, 'utf8'))), null, 2) + '\n');
  console.log(`imported ${path} into ${out}`);
}

/** Rows of model vs measurement: { figure, model, measured, agree, why }. */
export function compare(p, vb) {
  const rows = [];
  const cpuIn = p.cpuMsPerRoute.value;
  const pairs = [['me', 'me_eddsa', 'GET /api/me'], ['list', 'list_50', 'GET /api/tasks?limit=50'], ['create', 'create', 'POST /api/tasks'], ['update', 'toggle', 'PATCH …/complete']];
  for (const [route, key, label] of pairs) {
    const measured = vb.cpu_us_per_request[key]?.[0];
    if (measured == null) continue;
    const model = cpuIn[route] * 1000;
    const ratio = measured / model;
    rows.push({
      figure: `CPU per request, ${label} (µs, c=1)`,
      model: model.toFixed(0),
      measured: measured.toFixed(0),
      agree: Math.abs(ratio - 1) <= 0.2,
      why: `measured/model ${ratio.toFixed(2)}`,
    });
  }
  if (vb.verify_overhead_eddsa_ms_c1) {
    const [model, measured] = [p.verifyMs.value, vb.verify_overhead_eddsa_ms_c1.p50];
    rows.push({
      figure: 'EdDSA verification at the edge (ms, /api/me − /health, c=1 p50)',
      model: model.toFixed(3),
      measured: measured.toFixed(3),
      agree: Math.abs(measured / model - 1) <= 0.2,
      why: 'part of the CPU per request above; the same machine difference',
    });
  }
  // Machines differ between runs; the proportions between routes should not.
  const [mList, mMe] = [vb.cpu_us_per_request.list_50?.[0], vb.cpu_us_per_request.me_eddsa?.[0]];
  if (mList && mMe) {
    const [model, measured] = [cpuIn.list / cpuIn.me, mList / mMe];
    rows.push({
      figure: 'CPU proportion, list of 50 ÷ /api/me',
      model: model.toFixed(2),
      measured: measured.toFixed(2),
      agree: Math.abs(measured / model - 1) <= 0.2,
      why: 'independent of the machine’s speed',
    });
  }
  const mixCpu = (cpu) => Object.entries(p.routeMix.value).reduce((a, [r, s]) => a + s * cpu[r], 0);
  const measuredCpu = {
    me: vb.cpu_us_per_request.me_eddsa[0] / 1000,
    list: vb.cpu_us_per_request.list_50[0] / 1000,
    get: vb.cpu_us_per_request.toggle[0] / 1000,
    create: vb.cpu_us_per_request.create[0] / 1000,
    update: vb.cpu_us_per_request.toggle[0] / 1000,
    delete: vb.cpu_us_per_request.toggle[0] / 1000,
  };
  const [cm, cmm] = [mixCpu(cpuIn), mixCpu(measuredCpu)];
  rows.push({
    figure: 'CPU per request of the route mix (ms) → $ per million requests (CPU part)',
    model: `${cm.toFixed(3)} → $${(cm * 0.02).toFixed(4)}`,
    measured: `${cmm.toFixed(3)} → $${(cmm * 0.02).toFixed(4)}`,
    agree: Math.abs(cmm / cm - 1) <= 0.2,
    why: 'same weights applied to both runs',
  });
  for (const [route, expected] of [['me', 0], ['list', 1], ['create', 1], ['toggle', 1], ['health', 0]]) {
    const m = vb.neon_round_trips_per_request[route];
    if (m == null) continue;
    rows.push({ figure: `Neon round trips per request, ${route}`, model: String(expected), measured: String(m), agree: m === expected, why: '' });
  }
  if (vb.list_table_size_c1) {
    const t = vb.list_table_size_c1;
    const small = M.listExecMs(p, t.small_users * 100).ms;
    const large = M.listExecMs(p, t.large_users * 100).ms;
    // The model: the list's latency is a fixed part (worker, local stack, HTTP) plus the
    // SQL execution, which grows with log(rows) at the fitted slope.
    const fixed = t.small.p50 - small;
    const predicted = (fixed + large) / (fixed + small);
    const measured = t.large.p50 / t.small.p50;
    rows.push({
      figure: `list latency, ${t.large_users} vs ${t.small_users} users × 100 tasks (p50 ratio; p99 ratio measured ${(t.large.p99 / t.small.p99).toFixed(2)})`,
      model: predicted.toFixed(3),
      measured: measured.toFixed(3),
      agree: Math.abs(measured - predicted) <= 0.1,
      why: `SQL execution ${small.toFixed(3)} → ${large.toFixed(3)} ms of a ${t.small.p50.toFixed(2)} ms request`,
    });
    // Absolute latency, from this run's own CPU (the machine's speed cancels out).
    const cpuPlusSql = vb.cpu_us_per_request.list_50[0] / 1000 + M.sqlMs(p);
    rows.push({
      figure: 'list latency, absolute (ms, c=1 p50, 10 users)',
      model: `${cpuPlusSql.toFixed(2)} (this run's worker CPU + measured SQL transaction)`,
      measured: t.small.p50.toFixed(2),
      agree: Math.abs(t.small.p50 / cpuPlusSql - 1) <= 0.2,
      why: `the ${(t.small.p50 - cpuPlusSql).toFixed(2)} ms left is the local stack's hop (Node HTTP server, JSON, a pg client); Neon's proxy takes its place in production (\`neonProxyMs\`, assumed 3 ms)`,
    });
  }
  if (vb.jwks) {
    const predicted = M.jwksFetchesPerIsolate(p, vb.jwks.isolate_life_s);
    rows.push({
      figure: `JWKS fetches per isolate over its ${vb.jwks.isolate_life_s} s of load`,
      model: String(predicted),
      measured: String(vb.jwks.fetches_per_isolate),
      agree: predicted === vb.jwks.fetches_per_isolate,
      why: `one per ${p.jwksFreshSeconds.value} s fresh period, the first at the isolate's start`,
    });
  }
  return rows;
}

export function validation(p, vb) {
  const rows = compare(p, vb);
  const head = `Bench run ${vb.date} (${vb.machine}, \`${vb.command}\`) against the model, whose measured inputs come from the run of ${p.cpuMsPerRoute.date}.\n\n`;
  return head + [
    '| figure | model | measured | agree? | note |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.figure} | ${r.model} | ${r.measured} | ${r.agree ? 'yes' : '**no**'} | ${r.why} |`),
  ].join('\n');
}
