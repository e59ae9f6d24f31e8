#!/usr/bin/env node
// `npm run bench`: the budgets of docs/benchmarks.md, measured.
//
// OUR worker (build/, Rust → wasm) and a PEER (bench/peer/worker.mjs: jose +
// @neondatabase/serverless) run side by side, each in its own workerd process,
// against one local stack, and are measured in alternating rounds so that drift of
// this machine hits both alike. With BENCH_BASELINE, the previous release ("base",
// built from that commit) runs in the same rounds. See bench/README.md for what each
// figure means.
//
//   BENCH_QUICK=1          small request counts (a trial run, about 30 s)
//   BENCH_BASELINE=<rev>   also measure the worker built from that commit (e.g. the
//                          previous release); built once into bench/results/.baseline/
//   DATABASE_URL=…         run the stack on that PostgreSQL server (in a scratch database)
//   BENCH_DATABASE_URL=…   server for the 10 vs 10 000 users list test
//                          (default postgresql://postgres@127.0.0.1:5432/postgres)
//   BENCH_MAX_MINUTES=…    hard stop (default 14)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { load, percentile, pool, summarize } from './lib/load.mjs';
import { cpuOf, machine } from './lib/proc.mjs';
import { makeKeys, mintToken, startJwksServer } from './lib/auth.mjs';
import { benchTokens, bindingsFor, figures, loadOptions, seed } from './lib/fixtures.mjs';
import { shutdownSteps } from './lib/shutdown.mjs';
import { sql, startStackProcess } from './lib/stack.mjs';
import { buildPeer, PEER_SOURCE, ROOT, startWorker } from './lib/workers.mjs';
import { baselineCompatibilityDate, buildBaseline } from './lib/baseline.mjs';
import { createScratchDatabase, serverReachable } from '../tests/support/database.mjs';
import { compatibilityDate } from '../tests/support/worker.mjs';
import { columnsFor, tableRows, textTable, VERDICT_COLUMNS, verdictRows, writeResults } from './lib/report.mjs';
import { jwksFigures, neonFigures, verdicts, verificationOverhead } from './lib/verdicts.mjs';

const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
const QUICK = process.env.BENCH_QUICK === '1';
// Requests per cell are totals over all rounds of that cell (pooled).
// `auth`: /health and /api/me; `db`: the routes that reach the database.
const PLAN = QUICK
  ? { name: 'quick', rounds: 2, warmup: 100, auth: { 1: 300, 32: 600 }, db: { 1: 100, 32: 200 }, coldStarts: 1, scaleUsers: 1_000, scaleRequests: 200, maxRunMs: 20_000 }
  : { name: 'full', rounds: 6, warmup: 300, auth: { 1: 4_800, 32: 9_600 }, db: { 1: 1_800, 32: 3_600 }, coldStarts: 5, scaleUsers: 10_000, scaleRequests: 3_000, maxRunMs: 60_000 };
const CONCURRENCY = [1, 32];

const log = (...args) => console.error(...args);

// ------------------------------------------------------------------ lifecycle

const { onCleanup, mark, cleanup } = shutdownSteps('bench', log);
const maxMinutes = Number(process.env.BENCH_MAX_MINUTES || 14);
/** The hard stop; armed after the baseline build, whose first run alone takes minutes. */
function armHardStop() {
  setTimeout(() => {
    log(`bench: still running after ${maxMinutes} min, giving up`);
    cleanup().finally(() => process.exit(1));
  }, maxMinutes * 60_000).unref();
}

// ------------------------------------------------------------------ setup

/** The main database: in-memory PGlite, or a scratch database on DATABASE_URL's server. */
async function startMainStack() {
  if (!process.env.DATABASE_URL) {
    return { stack: await startStackProcess(), database: 'PGlite (in memory, in the stack process)' };
  }
  const db = await createScratchDatabase(process.env.DATABASE_URL, 'taskapi_bench');
  onCleanup(() => db.drop());
  return { stack: await startStackProcess({ databaseUrl: db.url }), database: `PostgreSQL (scratch database ${db.name} on DATABASE_URL's server)` };
}

/** Per kind, what startWorker needs beyond the bindings (the base's build directory). */
const SCRIPT_OPTIONS = {};

/** Starts one worker and registers its shutdown. */
async function startOne(kind, bindings) {
  const worker = await startWorker(kind, bindings, SCRIPT_OPTIONS[kind]);
  worker.startedAt = Date.now();
  onCleanup(() => worker.close());
  return worker;
}

/** OUR worker, the PEER and the BASE release, one after the other (each workerd is found by PID diff). */
async function startWorkers(ctx) {
  const workers = {
    ours: await startOne('ours', bindingsFor(ctx, ctx.stack, 'ours')),
    peer: await startOne('peer', bindingsFor(ctx, ctx.stack, 'peer')),
  };
  if (ctx.baseline) workers.base = await startOne('base', bindingsFor(ctx, ctx.stack, 'base'));
  return workers;
}

/**
 * Keys our task JSON may carry beyond the peer's plain task (the `version` of docs/api.md).
 * The shape comparison skips them, so parity still means the same core shape.
 */
const EXTRA_FIELDS_OURS_ADDS = ['version'];

/** "{keys}" of an object, or "[n × {keys}]" of a list (its first item), without the extra fields. */
function shape(body) {
  const item = Array.isArray(body) ? body[0] : body;
  const keys =
    item && typeof item === 'object'
      ? Object.keys(item)
          .filter((k) => !EXTRA_FIELDS_OURS_ADDS.includes(k))
          .sort()
          .join(',')
      : typeof item;
  return Array.isArray(body) ? `[${body.length} × {${keys}}]` : `{${keys}}`;
}

/**
 * Ours and the peer must answer the compared routes alike: same status codes, same
 * JSON shape (keys of the object, or of the list's items), for create a Location
 * naming the new task. Checked once before measuring.
 */
async function checkParity(ctx) {
  const auth = { authorization: `Bearer ${ctx.tokens.EdDSA}` };
  const json = { ...auth, 'content-type': 'application/json' };
  const task = (id) => `/api/tasks/${id}`;
  const cases = [
    { route: '/health', headers: {} },
    { route: '/api/me', headers: auth },
    { route: '/api/tasks?limit=50', headers: auth },
    { route: '/api/me', headers: {} },
    { route: '/api/me', headers: { authorization: 'Bearer not.a.token' } },
    { method: 'POST', route: '/api/tasks', headers: json, body: { title: '  parity task  ', description: 'made by checkParity' } },
    { method: 'POST', route: '/api/tasks', headers: json, body: { title: 'no description' } },
    { method: 'POST', route: '/api/tasks', headers: json, body: { title: '   ' } },
    { method: 'POST', route: '/api/tasks', headers: json, body: { title: 'x'.repeat(201) } },
    { method: 'POST', route: '/api/tasks', headers: json, body: '{"title": ' },
    { method: 'POST', route: '/api/tasks', headers: { 'content-type': 'application/json' }, body: { title: 'no token' } },
    { method: 'PATCH', route: task(ctx.taskIds[0]), headers: json, body: { title: 'parity update' } },
    { method: 'PATCH', route: task(ctx.taskIds[1]), headers: json, body: { description: null, completed: true } },
    { method: 'PATCH', route: task(ctx.taskIds[2]), headers: json, body: { title: '' } },
    { method: 'PATCH', route: task(ctx.otherTaskId), headers: json, body: { title: 'not mine' } },
    { method: 'PATCH', route: task('999999999999'), headers: json, body: { title: 'missing' } },
  ];
  for (const { method = 'GET', route, headers, body } of cases) {
    const seen = {};
    for (const kind of ['ours', 'peer']) {
      const res = await fetch(new URL(route, ctx.workers[kind].url), {
        method,
        headers,
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const parsed = await res.json().catch(() => null);
      // Problem documents may differ in their members; their status is what counts.
      seen[kind] = res.status >= 400 ? `${res.status}` : `${res.status} ${shape(parsed)}`;
      if (res.status === 201) {
        const location = res.headers.get('location');
        if (location !== task(parsed?.id)) seen[kind] += ` Location ${location} for id ${parsed?.id}`;
      }
    }
    if (seen.ours !== seen.peer) {
      throw new Error(`ours and peer answer ${method} ${route} differently: ${seen.ours} vs ${seen.peer}`);
    }
  }
}

/** One load run against one worker, with the workerd CPU, SQL and JWKS counters around it. */
async function runOnce(ctx, worker, fig, concurrency, requests) {
  const opts = loadOptions(fig, { concurrency, requests, offset: ctx.sequence, maxMs: PLAN.maxRunMs });
  ctx.sequence += requests;
  const sqlBefore = (await ctx.stack.stats()).sql;
  const jwksBefore = ctx.jwksServer.hits(worker.kind);
  const cpuBefore = cpuOf(worker.pid);
  const result = await load(worker.url, opts);
  const cpuUs = cpuOf(worker.pid) - cpuBefore;
  ctx.lastMeasuredAt = Date.now();
  return {
    ...result,
    cpuUs,
    jwks: ctx.jwksServer.hits(worker.kind) - jwksBefore,
    sql: (await ctx.stack.stats()).sql - sqlBefore,
  };
}

/**
 * The workers of a figure in the order of one round: peer, ours, base, reversed every
 * other round (ABBA, or ABC CBA). Ours sits in the middle, next to each worker it is
 * compared with in every round.
 */
const ROUND_ORDER = ['peer', 'ours', 'base'];
function roundOrder(kinds, round) {
  const order = [...kinds].sort((a, b) => ROUND_ORDER.indexOf(a) - ROUND_ORDER.indexOf(b));
  return round % 2 === 0 ? order : order.reverse();
}

/**
 * Measures a group of figures at one concurrency: a warm-up of every figure on every
 * worker, then `PLAN.rounds` rounds; each round runs every figure once on each worker,
 * the workers in alternating order (roundOrder). Figures of a group are thus measured
 * close together in time (me − health differences are not skewed by drift), and so
 * are the workers. Runs of one cell are pooled.
 * @returns {Map<object, Record<string, object>>} per figure, per worker
 */
async function measureGroup(ctx, group, concurrency) {
  for (const fig of group) {
    for (const kind of fig.kinds) {
      const warm = await load(ctx.workers[kind].url, loadOptions(fig, { concurrency, requests: PLAN.warmup, maxMs: PLAN.maxRunMs }));
      if (warm.errors) throw new Error(`${fig.label} on ${kind} fails during warm-up: ${warm.firstError}`);
    }
  }
  const runs = new Map(group.map((fig) => [fig, Object.fromEntries(fig.kinds.map((k) => [k, []]))]));
  for (let round = 0; round < PLAN.rounds; round += 1) {
    for (const fig of group) {
      const perRound = Math.ceil(PLAN[fig.size][concurrency] / PLAN.rounds);
      for (const kind of roundOrder(fig.kinds, round)) runs.get(fig)[kind].push(await runOnce(ctx, ctx.workers[kind], fig, concurrency, perRound));
    }
  }
  const out = new Map();
  for (const fig of group) {
    const cells = {};
    for (const kind of fig.kinds) {
      const kindRuns = runs.get(fig)[kind];
      const pooled = pool(kindRuns);
      const sum = (key) => kindRuns.reduce((n, r) => n + r[key], 0);
      const cell = {
        summary: summarize(pooled),
        // p50/p99 of each round on its own: their spread shows how stable the cell was.
        rounds: kindRuns.map((r) => ({ p50: percentile(r.samples, 50), p99: percentile(r.samples, 99) })),
        firstError: pooled.firstError,
        statuses: pooled.statuses,
        requests: pooled.sent,
        cpuUs: sum('cpuUs'),
        sql: sum('sql'),
        jwks: sum('jwks'),
      };
      cell.cpuUsPerReq = cell.cpuUs / pooled.sent;
      cells[kind] = cell;
      const s = cell.summary;
      log(
        `  ${fig.label.padEnd(36)} c=${String(concurrency).padEnd(2)} ${kind}: p50 ${s.p50.toFixed(3)} ms, p99 ${s.p99.toFixed(3)} ms, ` +
          `${Math.round(s.rps)} req/s, CPU ${Math.round(cell.cpuUsPerReq)} µs/req${s.errors ? `, ${s.errors} errors (${pooled.firstError})` : ''}`,
      );
    }
    out.set(fig, cells);
  }
  return out;
}

/** Every figure of `group` at both concurrencies, with totals over both per worker. */
async function measureFigures(ctx, group) {
  const results = group.map((fig) => ({
    id: fig.id,
    label: fig.label,
    alg: fig.alg,
    sqlPerRequest: fig.sqlPerRequest,
    cells: Object.fromEntries(fig.kinds.map((k) => [k, {}])),
  }));
  for (const concurrency of CONCURRENCY) {
    const measured = await measureGroup(ctx, group, concurrency);
    group.forEach((fig, i) => {
      for (const kind of fig.kinds) results[i].cells[kind][concurrency] = measured.get(fig)[kind];
    });
  }
  for (const { cells } of results) {
    for (const c of Object.values(cells)) {
      const total = (key) => CONCURRENCY.reduce((n, conc) => n + c[conc][key], 0);
      c.requests = total('requests');
      c.cpuUsPerReq = total('cpuUs') / c.requests;
      c.sql = total('sql');
      c.jwks = total('jwks');
    }
  }
  return results;
}

// ------------------------------------------------------------------ cold start

/**
 * First response of a fresh workerd: for each worker and route, `PLAN.coldStarts` new
 * Miniflare instances, each serving exactly one request (/api/me includes the first
 * JWKS fetch and key import). Also reports how long the instance took to be ready.
 */
async function measureColdStarts(ctx) {
  const routes = [
    { label: 'GET /health', path: '/health', headers: {} },
    { label: 'GET /api/me EdDSA (incl. JWKS fetch)', path: '/api/me', headers: { authorization: `Bearer ${ctx.tokens.EdDSA}` } },
  ];
  const out = [];
  for (const route of routes) {
    const samples = { ours: [], peer: [] };
    const startups = { ours: [], peer: [] };
    for (let i = 0; i < PLAN.coldStarts; i += 1) {
      for (const kind of i % 2 === 0 ? ['ours', 'peer'] : ['peer', 'ours']) {
        const worker = await startWorker(kind, bindingsFor(ctx, ctx.stack, `cold-${kind}`));
        try {
          const r = await load(worker.url, { requests: 1, path: route.path, headers: route.headers, maxMs: 30_000 });
          if (r.errors) throw new Error(`cold ${route.label} on ${kind}: ${r.firstError}`);
          samples[kind].push(r.samples[0]);
          startups[kind].push(worker.startupMs);
        } finally {
          await worker.close();
        }
      }
    }
    const row = { label: route.label };
    for (const kind of ['ours', 'peer']) {
      row[kind] = { samples: samples[kind], medianMs: percentile(samples[kind], 50), medianStartupMs: percentile(startups[kind], 50) };
    }
    log(`  cold start ${route.label}: ours ${row.ours.medianMs.toFixed(1)} ms, peer ${row.peer.medianMs.toFixed(1)} ms (median of ${PLAN.coldStarts})`);
    out.push(row);
  }
  return out;
}

// ------------------------------------------------------------------ upload size

/**
 * `wrangler deploy --dry-run` of a config in a temporary folder: wrangler.toml without
 * its [build] step (build/ is already fresh) for ours, and the peer's source (which
 * wrangler bundles itself, as for any JS worker).
 */
function wranglerUploadSize(name, tomlText) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-upload-${name}-`));
  try {
    fs.writeFileSync(path.join(dir, 'wrangler.toml'), tomlText);
    const res = spawnSync(
      path.join(ROOT, 'node_modules', '.bin', 'wrangler'),
      ['deploy', '--dry-run', '--config', path.join(dir, 'wrangler.toml'), '--outdir', path.join(dir, 'out')],
      {
        cwd: dir,
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_HIDE_BANNER: 'true' },
      },
    );
    const output = `${res.stdout}\n${res.stderr}`;
    const match = output.match(/Total Upload:\s*([\d.]+)\s*KiB\s*\/\s*gzip:\s*([\d.]+)\s*KiB/);
    if (!match) throw new Error(`wrangler deploy --dry-run printed no upload size:\n${output.slice(-2000)}`);
    return { rawKiB: Number(match[1]), gzipKiB: Number(match[2]) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function measureUpload(peerBundle) {
  const toml = fs.readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8');
  const withoutBuild = toml
    .replace(/^\[build\][\s\S]*?(?=^\[)/m, '')
    .replace(/^main\s*=.*$/m, `main = ${JSON.stringify(path.join(ROOT, 'build', 'index.js'))}`);
  const peerToml = `name = "peer"\nmain = ${JSON.stringify(PEER_SOURCE)}\ncompatibility_date = "${compatibilityDate()}"\n`;
  const upload = {
    ours: wranglerUploadSize('ours', withoutBuild),
    peerWrangler: wranglerUploadSize('peer', peerToml),
    peerBundle: { rawKiB: peerBundle.rawBytes / 1024, gzipKiB: peerBundle.gzipBytes / 1024 },
  };
  log(`  upload: ours ${upload.ours.rawKiB} KiB / gzip ${upload.ours.gzipKiB} KiB; peer ${upload.peerWrangler.rawKiB} KiB / gzip ${upload.peerWrangler.gzipKiB} KiB`);
  return upload;
}

// ------------------------------------------------------------------ scale

/**
 * List latency of one user with 10 vs 10 000 users × 100 tasks in the table: two
 * scratch databases on a PostgreSQL server, a stack and one of our workers on each,
 * measured in alternating rounds at c=1.
 */
async function measureScale(ctx) {
  const serverUrl = process.env.BENCH_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';
  if (!(await serverReachable(serverUrl))) {
    return { skipped: 'no PostgreSQL server reachable (BENCH_DATABASE_URL)' };
  }
  const sizes = { small: 10, large: PLAN.scaleUsers };
  const user = 'scale-user-7';
  const setups = {};
  for (const [name, users] of Object.entries(sizes)) {
    const db = await createScratchDatabase(serverUrl, `taskapi_bench_${name}`);
    onCleanup(() => db.drop());
    const stack = await startStackProcess({ databaseUrl: db.url });
    onCleanup(() => stack.close());
    const t0 = Date.now();
    await sql(
      stack,
      `INSERT INTO tasks (user_id, title, created_at, updated_at)
       SELECT 'scale-user-' || u, 'task ' || t, now() - make_interval(secs => u * 100 + t), now() - make_interval(secs => u * 100 + t)
       FROM generate_series(1, ${users}) u, generate_series(1, 100) t`,
    );
    await sql(stack, 'ANALYZE tasks');
    log(`  scale: seeded ${users} users × 100 tasks in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const worker = await startOne('ours', bindingsFor(ctx, stack, `scale-${name}`));
    setups[name] = { worker, users };
  }
  const headers = { authorization: `Bearer ${await mintToken(ctx.keys, 'EdDSA', user)}` };
  const opts = { concurrency: 1, path: '/api/tasks?limit=50', headers, maxMs: PLAN.maxRunMs };
  for (const name of ['small', 'large']) {
    const warm = await load(setups[name].worker.url, { ...opts, requests: PLAN.warmup });
    if (warm.errors) throw new Error(`scale list (${name}) fails during warm-up: ${warm.firstError}`);
  }
  const runs = { small: [], large: [] };
  const perRound = Math.ceil(PLAN.scaleRequests / PLAN.rounds);
  for (let round = 0; round < PLAN.rounds; round += 1) {
    for (const name of round % 2 === 0 ? ['small', 'large'] : ['large', 'small']) {
      runs[name].push(await load(setups[name].worker.url, { ...opts, requests: perRound }));
    }
  }
  const small = summarize(pool(runs.small));
  const large = summarize(pool(runs.large));
  const result = { smallUsers: sizes.small, largeUsers: sizes.large, small, large, p99Ratio: large.p99 / small.p99, p50Ratio: large.p50 / small.p50 };
  log(`  scale: list p99 ${small.p99.toFixed(3)} ms (${sizes.small} users) vs ${large.p99.toFixed(3)} ms (${sizes.large} users): ratio ${result.p99Ratio.toFixed(2)}`);
  return result;
}

// ------------------------------------------------------------------ main

async function main() {
  const started = Date.now();
  log(`bench: ${PLAN.name} plan, ${PLAN.rounds} alternating rounds per cell`);
  const ctx = { sequence: 0 };
  if (process.env.BENCH_BASELINE) {
    log(`bench: baseline BENCH_BASELINE=${process.env.BENCH_BASELINE}`);
    ctx.baseline = buildBaseline(process.env.BENCH_BASELINE, log);
    SCRIPT_OPTIONS.base = { buildDir: ctx.baseline.buildDir, compatibilityDate: baselineCompatibilityDate(ctx.baseline.dir) };
  }
  armHardStop();

  log('bench: starting the local stack, JWKS server and workers');
  const peerBundle = buildPeer();
  ctx.keys = await makeKeys();
  ctx.jwksServer = await startJwksServer(ctx.keys.jwks);
  onCleanup(() => ctx.jwksServer.close());
  const phase = mark(); // what is started from here on ends before the scale test
  const mainDb = await startMainStack();
  ctx.stack = mainDb.stack;
  onCleanup(() => ctx.stack.close());
  Object.assign(ctx, await seed(ctx.stack));
  Object.assign(ctx, await benchTokens(ctx.keys));
  ctx.workers = await startWorkers(ctx);
  log(`  ${Object.values(ctx.workers).map((w) => `${w.kind}: ${w.url} (workerd ${w.pid})`).join('; ')}`);
  await checkParity(ctx);

  log('bench: upload size');
  const upload = measureUpload(peerBundle);

  log(`bench: load (alternating ${Object.keys(ctx.workers).join('/')})`);
  const all = figures(ctx);
  const figs = [
    ...(await measureFigures(ctx, all.filter((f) => f.size === 'auth'))),
    ...(await measureFigures(ctx, all.filter((f) => f.size === 'db'))),
  ];
  const overhead = verificationOverhead(figs, CONCURRENCY);
  const jwks = jwksFigures(ctx, figs);
  const neonRows = neonFigures(figs);

  log('bench: cold starts');
  const coldStart = await measureColdStarts(ctx);

  // The main workers and stack are done: free the machine for the scale test.
  await cleanup(phase);

  log('bench: list latency vs table size');
  const scale = await measureScale(ctx);
  await cleanup();

  const results = {
    date: new Date().toISOString(),
    machine: machine(),
    database: mainDb.database,
    baseline: ctx.baseline ? { rev: ctx.baseline.rev, commit: ctx.baseline.commit, subject: ctx.baseline.subject } : null,
    plan: PLAN,
    durationMs: 0,
    figures: figs,
    overhead,
    jwks,
    neon: neonRows,
    coldStart,
    upload,
    scale,
    notes: [
      'Numbers drift 8–20% between runs on this 2-core machine; ours/peer ratios within ~10% of 1 are noise.',
      'Both workers write one JSON log line per request (ours must log every request; the peer pays for it too), so that cost is in both sets of figures.',
      'CPU is utime+stime of the whole workerd process (all threads) from /proc/<pid>/stat, in clock ticks of ' +
        `${1e3 / machine().clkTck} ms, divided by the requests of the measured runs.`,
    ],
  };
  results.verdicts = verdicts(results);
  results.durationMs = Date.now() - started;

  const rows = tableRows(results);
  console.log('');
  console.log(textTable(rows, columnsFor(results)));
  console.log('');
  console.log('Budgets (docs/benchmarks.md):');
  console.log(textTable(verdictRows(results.verdicts), VERDICT_COLUMNS));
  console.log('');
  console.log(`bench: done in ${(results.durationMs / 1000).toFixed(0)} s; results in bench/results/latest.{json,md}`);
  writeResults(RESULTS_DIR, results, rows, results.verdicts);
}

main().catch(async (err) => {
  log(`bench: failed: ${err?.stack ?? err}`);
  await cleanup();
  process.exitCode = 1;
});
