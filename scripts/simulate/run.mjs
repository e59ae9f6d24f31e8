// npm run simulate                    the model's tables into docs/scaling.md, the plots
//                                     into docs/scaling-*.png, a summary on stdout
// npm run simulate -- --measure-db    first re-measure PostgreSQL (measure-db.mjs)
// npm run simulate -- --import-bench  first copy bench/results/latest.json (from
//                                     `npm run bench`) into measured/bench-validation.json
// npm run simulate -- --no-write      print only
//
// The tables in docs/scaling.md between `<!-- sim:NAME -->` and `<!-- /sim:NAME -->` are
// generated; the words around them are not.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultParams, USER_COUNTS, REGIONS, BENCH_FILE } from './params.mjs';
import * as M from './model.mjs';
import { validation } from './validate.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const DOC = join(root, 'docs', 'scaling.md');
const args = new Set(process.argv.slice(2));

const fmtN = (x, digits = 0) => {
  if (x === 0) return '0';
  if (Math.abs(x) >= 1e9) return `${(x / 1e9).toFixed(x >= 1e10 ? 0 : 1)} G`;
  if (Math.abs(x) >= 1e6) return `${(x / 1e6).toFixed(x >= 1e7 ? 0 : 1)} M`;
  if (Math.abs(x) >= 1e4) return `${(x / 1e3).toFixed(0)} k`;
  return x.toFixed(digits);
};
const gb = (b) => (b >= 1e9 ? `${(b / 1e9).toFixed(b >= 1e11 ? 0 : 1)} GB` : `${(b / 1e6).toFixed(0)} MB`);
const table = (head, rows) =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const users = (u) => fmtN(u);

function inputsTable(p) {
  const show = (v) => {
    if (typeof v === 'number') return String(v);
    if (typeof v === 'string') return v;
    if (v && v.levels) return 'see the database table';
    if (v && v['aws-us-east-1']) return Object.entries(v['aws-us-east-1']).map(([r, ms]) => `${r} ${ms}`).join(', ') + ' (to aws-us-east-1)';
    return Object.entries(v).map(([k, x]) => `${k} ${typeof x === 'number' ? +x.toFixed(3) : x}`).join(', ');
  };
  return table(
    ['parameter', 'value', 'unit', 'source', 'basis', 'sensitivity range'],
    Object.entries(p).map(([k, x]) => [`\`${k}\``, show(x.value), x.unit, `**${x.source}**`, x.basis, x.range ? `${x.range[0]} – ${x.range[1]}` : '']),
  );
}

function mainTable(p) {
  const rows = USER_COUNTS.map((u) => {
    const s = M.simulate(p, u);
    return [
      users(u),
      s.traffic.peakRps.toFixed(s.traffic.peakRps < 100 ? 1 : 0),
      `${fmtN(s.cost.requestsPerMonth)} · $${s.cost.usdPerMonth.toFixed(0)}`,
      fmtN(s.jwks.isolatesAlive),
      `${fmtN(s.jwks.perIsolateCachePerHour)} / ${fmtN(s.jwks.cacheApiTierPerHour)}`,
      `${fmtN(s.database.transactionsPerS, 1)} / ${fmtN(s.database.statementsPerS)}`,
      s.database.cu.toFixed(2),
      `${gb(s.database.tableBytes)} / ${gb(s.database.workingSetBytes)}`,
      `${s.database.listExecMs.toFixed(3)} ms`,
      `${fmtN(s.database.idempotency.rowsOwnerPurge)} (${gb(s.database.idempotency.bytesOwnerPurge)}) / ${fmtN(s.database.idempotency.rowsGlobalPurge)}`,
    ];
  });
  const c = M.workersCost(p, 1e6);
  const note = `Workers cost per million requests beyond the included ones: $${p.workersPrice.value.usdPerMillionRequests.toFixed(2)} for the requests + ` +
    `$${c.cpuUsdPerMillionRequests.toFixed(3)} for CPU (${c.cpuMsPerRequest.toFixed(2)} ms per request over the route mix, measured ${p.cpuMsPerRoute.date}).`;
  return note + '\n\n' + table(
    ['users', 'peak req/s', 'Workers req/month · $/month', 'isolates alive', 'JWKS fetches/h: per-isolate (= workers.dev) / Cache API tier', 'DB peak tx/s / statements/s', 'DB CPU in CU at 60 %', 'tasks table+indexes / working set', 'list execution (extrapolated)', 'idempotency rows: owner purge (size) / + daily global purge'],
    rows,
  );
}

function latencyTable(p) {
  const routes = [['me', '/api/me'], ['list', 'list'], ['create', 'create']];
  const share = p.regionShare.value;
  const out = [];
  for (const u of [1e4, 1e7]) {
    const o = { users: u };
    const head = [`${users(u)} users: region (share)`, ...routes.flatMap(([, l]) => [`${l} edge`, `${l} placed`])];
    const rows = REGIONS.map((r) => [
      `${r} (${Math.round(share[r] * 100)} %)`,
      ...routes.flatMap(([route]) => ['edge', 'placed'].map((pl) => M.latency(p, r, route, pl, o).toFixed(0))),
    ]);
    rows.push(['**traffic-weighted mean**', ...routes.flatMap(([route]) => ['edge', 'placed'].map((pl) => `**${M.meanLatency(p, route, pl, o).toFixed(0)}**`))]);
    rows.push([`**whole route mix** (edge / placed)`, `**${M.mixLatency(p, 'edge', o).toFixed(0)}**`, `**${M.mixLatency(p, 'placed', o).toFixed(0)}**`, '', '', '', '']);
    out.push(table(head, rows));
  }
  const x = M.placementCrossover(p);
  out.push(`Over the whole route mix, the worker at the edge is as fast as placed near the database from **${x ? users(x) : 'never (up to 100 M)'} users** on (model as given).`);
  return out.join('\n\n');
}

function regionTable(p) {
  const candidates = Object.keys(p.rttToRegionMs.value);
  const o = (c, u) => ({ users: u, neonRegion: c });
  return table(
    ['Neon region', 'list, mean ms (10 k users / 10 M)', 'list, worst region ms (10 M)', 'route mix, mean ms (10 M)'],
    candidates.map((c) => [
      c + (c === p.neonRegion.value ? ' (model default)' : ''),
      `${M.meanLatency(p, 'list', 'edge', o(c, 1e4)).toFixed(0)} / ${M.meanLatency(p, 'list', 'edge', o(c, 1e7)).toFixed(0)}`,
      Math.max(...REGIONS.map((r) => M.latency(p, r, 'list', 'edge', o(c, 1e7)))).toFixed(0),
      M.mixLatency(p, 'edge', o(c, 1e7)).toFixed(0),
    ]),
  );
}

function dbTable(p) {
  const pgm = p.postgres.value;
  const label = 'default (created_at desc, limit 50)';
  const rows = pgm.levels.map((l) => {
    const heap = l.bytes.tasks;
    const idx = Object.entries(l.bytes).filter(([k]) => k.startsWith('tasks_')).reduce((a, [, v]) => a + v, 0);
    const cases = Object.entries(l.list).map(([k, v]) => `${k.split(' (')[0]} ${v.execution_ms_p50}`).join(' · ');
    return [
      users(l.users), fmtN(l.rows), gb(heap), gb(idx),
      `${l.list[label].execution_ms_p50} / ${l.list[label].planning_ms_p50}`,
      String(l.list[label].shared_hit + l.list[label].shared_read),
      `${l.transaction.with_rls_prefix_ms_p50} / ${l.transaction.superuser_no_prefix_ms_p50}`,
      `${l.purge.execution_ms_p50}`,
      cases,
    ];
  });
  const last = pgm.levels[pgm.levels.length - 1];
  const heapPerRow = last.bytes.tasks / last.rows;
  for (const u of [1e6, 1e7]) {
    const d = M.database(p, u);
    rows.push([`${users(u)} (extrapolated)`, fmtN(d.rows), gb(d.rows * heapPerRow), gb(d.tableBytes - d.rows * heapPerRow), `${d.listExecMs.toFixed(3)}`, `${d.listBuffers}`, '', '', '']);
  }
  return table(
    ['users', 'rows', 'heap', 'indexes', 'list execution / planning ms (p50)', 'buffers', 'transaction with RLS prefix / without, ms (loopback)', 'idempotency purge ms', 'other list shapes, execution ms p50'],
    rows,
  );
}

function sensitivityTable(p, u) {
  const f = (k) => [
    `${fmtN(k.jwksIsolatePerHour)} / ${fmtN(k.jwksTierPerHour)}`,
    `${k.listEdgeMs.toFixed(0)} / ${k.listPlacedMs.toFixed(0)}`,
    `${k.meEdgeMs.toFixed(0)} / ${k.mePlacedMs.toFixed(0)}`,
    `${k.mixEdgeMs.toFixed(0)} / ${k.mixPlacedMs.toFixed(0)}`,
    k.crossoverUsers ? fmtN(k.crossoverUsers) : 'never',
    k.dbCu.toFixed(2),
    k.workingSetGb.toFixed(1),
    k.idemRowsM.toFixed(1),
  ];
  const rows = [['**model as given**', '', ...f(M.keyFigures(p, u))]];
  for (const s of M.sensitivity(p, u)) {
    rows.push([`\`${s.key}\``, `low ${s.range[0]}`, ...f(s.low)]);
    rows.push(['', `high ${s.range[1]}`, ...f(s.high)]);
  }
  return table(
    ['assumed parameter', 'value', 'JWKS fetches/h per-isolate / Cache API tier', 'list mean ms edge / placed', '/api/me mean ms edge / placed', 'route mix mean ms edge / placed', 'edge as fast as placed from … users', 'DB CU (CPU)', 'working set GB', 'idempotency rows M (owner purge)'],
    rows,
  );
}

export function report(p, validationBench) {
  const sections = {
    inputs: inputsTable(p),
    main: mainTable(p),
    latency: latencyTable(p),
    regions: regionTable(p),
    database: dbTable(p),
    sensitivity: sensitivityTable(p, 1e6),
    validation: validationBench ? validation(p, validationBench) : '_No validation run imported yet: run `npm run bench`, then `npm run simulate -- --import-bench`._',
  };
  return sections;
}

function plots(p) {
  // Imported here so `--no-write` and the test never load the native renderer.
  return import('./plot.mjs').then(({ barChart, logLogChart, toPng }) => {
    const lo = { users: 1e4 }, hi = { users: 1e7 };
    const lat = barChart({
      title: `Latency per region, database in ${p.neonRegion.value} (model)`,
      groups: REGIONS,
      series: ['list at edge, 10 k users', 'list placed, 10 k users', 'list at edge, 10 M users', 'list placed, 10 M users', '/api/me at edge', '/api/me placed'],
      values: REGIONS.map((r) => [
        M.latency(p, r, 'list', 'edge', lo), M.latency(p, r, 'list', 'placed', lo),
        M.latency(p, r, 'list', 'edge', hi), M.latency(p, r, 'list', 'placed', hi),
        M.latency(p, r, 'me', 'edge', hi), M.latency(p, r, 'me', 'placed', hi),
      ]),
      yLabel: 'ms, frontend to response',
    });
    const xs = [];
    for (let e = 4; e <= 7.001; e += 0.25) xs.push(10 ** e);
    const j = xs.map((u) => M.jwks(p, u));
    const jw = logLogChart({
      title: 'JWKS fetches per hour reaching the Better Auth issuer (model)',
      xs,
      series: ['per-isolate cache only', '(also any *.workers.dev', ' deployment)', 'Cache API tier', '(custom domain)'],
      values: [j.map((x) => x.workersDevPerHour), null, null, j.map((x) => x.cacheApiTierPerHour), null],
      xLabel: 'registered users',
      yLabel: 'fetches per hour',
    });
    writeFileSync(join(root, 'docs', 'scaling-latency.png'), toPng(lat));
    writeFileSync(join(root, 'docs', 'scaling-jwks.png'), toPng(jw));
  });
}

export function fillDoc(text, sections) {
  let out = text;
  for (const [name, body] of Object.entries(sections)) {
    const re = new RegExp(`(<!-- sim:${name} -->\\n)[\\s\\S]*?(<!-- /sim:${name} -->)`);
    if (!re.test(out)) throw new Error(`docs/scaling.md has no <!-- sim:${name} --> block`);
    out = out.replace(re, (_, a, b) => `${a}${body}\n${b}`);
  }
  return out;
}

async function main() {
  if (args.has('--measure-db')) await (await import('./measure-db.mjs')).main();
  if (args.has('--import-bench')) (await import('./validate.mjs')).importBench(join(root, 'bench', 'results', 'latest.json'));
  const p = defaultParams();
  const vfile = join(here, 'measured', 'bench-validation.json');
  const vbench = existsSync(vfile) ? JSON.parse(readFileSync(vfile, 'utf8')) : null;
  const sections = report(p, vbench);
  if (args.has('--no-write')) {
    for (const [k, v] of Object.entries(sections)) console.log(`\n## ${k}\n\n${v}`);
    return;
  }
  writeFileSync(DOC, fillDoc(readFileSync(DOC, 'utf8'), sections));
  await plots(p);
  console.log(`model inputs: ${BENCH_FILE}, postgres.json; wrote docs/scaling.md tables, docs/scaling-latency.png, docs/scaling-jwks.png`);
  console.log(sections.main);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e.stack ?? e.message);
    process.exit(1);
  });
}
