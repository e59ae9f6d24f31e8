#!/usr/bin/env node
// Where a worker's CPU goes, per route: a V8 CPU profile of one worker in its own
// workerd, taken through workerd's inspector while the benchmark's requests for that
// route run, summed by function (wasm functions by their Rust names, the JS glue, the
// runtime's builtins) and by category. The bench (run.mjs) says how much CPU a route
// costs; this says on what. See bench/README.md ("Profiles") for how to read it.
//
//   node bench/profile.mjs [route] [--requests N] [--cold] [--peer]
//     route        health (default) | me | list | create | update, or /health, /api/me, …
//     --requests N requests profiled (default 2000 for health/me, 500 for the others);
//                  with --cold, fresh isolates (default 5)
//     --warmup N   requests before the profile starts (default 300)
//     --cold       the first request of fresh isolates: each profile starts as soon as
//                  its worker is ready and stops after the first response
//     --peer       the JS peer (bench/peer/worker.mjs) instead of ours
//     --interval µs  sampling interval asked of V8 (default 50)
//     --top N      rows of the function table (default 40)
//     --build DIR  our build to load (default bench/results/.profile-build, made by
//                  `KEEP_NAMES=1 bash scripts/build.sh`: the release wasm with its names)
//
// The raw profile goes to bench/results/profile-<worker>-<route>[-cold-<i>].cpuprofile
// (Chrome DevTools: Performance panel, "Load profile"; or speedscope).

import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import WebSocket from 'ws';
import { makeKeys, startJwksServer } from './lib/auth.mjs';
import { benchTokens, bindingsFor, figures, loadOptions, seed } from './lib/fixtures.mjs';
import { shutdownSteps } from './lib/shutdown.mjs';
import { load, percentile } from './lib/load.mjs';
import { CLK_TCK, threadCpuOf } from './lib/proc.mjs';
import { startStackProcess } from './lib/stack.mjs';
import { buildPeer, PEER_BUNDLE, ROOT, startWorker } from './lib/workers.mjs';

const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
const PROFILE_BUILD = path.join(RESULTS_DIR, '.profile-build');
const log = (...args) => console.error(...args);

// Route names and the figure (lib/fixtures.mjs) each one profiles, so the requests
// are exactly the ones the benchmark measures (EdDSA tokens, as its main figures).
const ROUTES = {
  health: { figure: 'health', aliases: ['/health'], requests: 2000 },
  me: { figure: 'me-EdDSA', aliases: ['/api/me'], requests: 2000 },
  list: { figure: 'list', aliases: ['/api/tasks?limit=50', '/api/tasks'], requests: 500 },
  create: { figure: 'create', aliases: ['POST /api/tasks'], requests: 500 },
  update: { figure: 'update', aliases: ['PATCH /api/tasks/{id}'], requests: 500 },
};

class UsageError extends Error {}

function parseArgs(argv) {
  const opts = { route: 'health', cold: false, peer: false, warmup: 300, interval: 50, top: 40, build: PROFILE_BUILD };
  const value = (i, name) => {
    if (i >= argv.length) throw new UsageError(`${name} needs a value`);
    return argv[i];
  };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--cold') opts.cold = true;
    else if (arg === '--peer') opts.peer = true;
    else if (arg === '--requests') opts.requests = Number(value(++i, arg));
    else if (arg === '--warmup') opts.warmup = Number(value(++i, arg));
    else if (arg === '--interval') opts.interval = Number(value(++i, arg));
    else if (arg === '--top') opts.top = Number(value(++i, arg));
    else if (arg === '--build') opts.build = path.resolve(value(++i, arg));
    else if (arg.startsWith('--')) throw new UsageError(`unknown option ${arg}`);
    else {
      const name = Object.keys(ROUTES).find((r) => r === arg || ROUTES[r].aliases.includes(arg));
      if (!name) throw new UsageError(`unknown route ${arg} (one of ${Object.keys(ROUTES).join(', ')})`);
      opts.route = name;
    }
  }
  opts.requests ??= opts.cold ? 5 : ROUTES[opts.route].requests;
  for (const key of ['requests', 'warmup', 'interval', 'top']) {
    if (!Number.isInteger(opts[key]) || opts[key] < (key === 'warmup' ? 0 : 1)) throw new UsageError(`--${key} must be a whole number`);
  }
  return opts;
}

// ------------------------------------------------------------------ lifecycle

const { onCleanup, mark, cleanup } = shutdownSteps('profile', log);

/** A profile of a stale build would name functions that no longer exist, or miss new ones. */
function checkBuild(dir) {
  const wasm = path.join(dir, 'index_bg.wasm');
  if (!fs.existsSync(wasm)) {
    throw new Error(`no ${path.relative(ROOT, wasm)}: run \`KEEP_NAMES=1 bash scripts/build.sh\` first (or pass --build build)`);
  }
  const built = fs.statSync(wasm).mtimeMs;
  const newer = fs
    .readdirSync(path.join(ROOT, 'src'), { recursive: true, withFileTypes: true })
    .find((e) => e.isFile() && fs.statSync(path.join(e.parentPath ?? e.path, e.name)).mtimeMs > built);
  if (newer) log(`profile: warning: src/ changed since ${path.relative(ROOT, dir)}/ was built (KEEP_NAMES=1 bash scripts/build.sh)`);
}

// ------------------------------------------------------------------ inspector

/**
 * A DevTools-protocol session with the user worker's isolate. workerd lists one target
 * per isolate (Miniflare's own workers too); ours is `core:user:<name>`.
 */
async function inspect(worker) {
  const base = await worker.inspectorUrl();
  const targets = await (await fetch(`http://${base.host}/json`)).json();
  const target = targets.find((t) => t.id.startsWith('core:user:'));
  if (!target) throw new Error(`no user worker among the inspector's targets: ${targets.map((t) => t.id).join(', ')}`);
  // Profiles of thousands of requests are tens of MB of JSON in one message.
  const ws = new WebSocket(target.webSocketDebuggerUrl, { maxPayload: 1 << 30, perMessageDeflate: false });
  await once(ws, 'open');
  let nextId = 1;
  const pending = new Map();
  ws.on('message', (data) => {
    const msg = JSON.parse(data);
    const waiter = pending.get(msg.id);
    if (!waiter) return; // events: none are enabled that matter here
    pending.delete(msg.id);
    if (msg.error) waiter.reject(new Error(`${waiter.method}: ${msg.error.message}`));
    else waiter.resolve(msg.result);
  });
  ws.on('close', () => {
    for (const waiter of pending.values()) waiter.reject(new Error(`inspector closed during ${waiter.method}`));
    pending.clear();
  });
  return {
    send(method, params = {}) {
      const id = nextId++;
      ws.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve, reject) => pending.set(id, { method, resolve, reject }));
    },
    close() {
      ws.close();
    },
  };
}

// ------------------------------------------------------------------ reading a profile

/**
 * What a frame is. The worker's own script (ours: the wasm-bindgen glue and shim in
 * index.js; the peer: its bundle, jose and the Neon driver included) is told apart from
 * the JS that workerd itself ships (`node-internal:…`, `cloudflare-internal:…`) by URL;
 * frames with no URL are functions implemented in C++ (workerd's APIs such as
 * Headers.get, V8 builtins such as JSON.parse, when V8 reports them as frames).
 */
function categoryOf({ functionName: name, url }, scriptName) {
  if (name === '(idle)') return 'idle';
  if (name === '(program)' || name === '(garbage collector)' || name === '(root)') return name;
  // V8's wrappers that convert arguments and results at each wasm ↔ JS call.
  if (name.startsWith('js-to-wasm') || name.startsWith('wasm-to-js')) return 'wasm ↔ JS wrappers';
  if (url.startsWith('wasm://') || /^\$?func\d+$/.test(name)) return 'wasm';
  if (url === scriptName || url.endsWith(`/${scriptName}`)) return 'JS: worker script';
  if (url) return 'JS: workerd runtime';
  return 'native (API / builtin)';
}

function frameLabel({ functionName, url, lineNumber, columnNumber }, category) {
  const name = functionName || '(anonymous)';
  if (!url || category === 'wasm' || category === 'wasm ↔ JS wrappers') return name;
  return `${name} ${path.basename(url)}:${lineNumber + 1}:${columnNumber + 1}`;
}

/**
 * Per function (frames of one function at any depth summed, over all `profiles`): its
 * own samples and those with it anywhere on the stack, and the same as time. Two
 * weightings, because V8 records a sample only when the isolate's thread handles the
 * profiler's signal: while that thread waits (for a core, or in a system call such as
 * the write of a log line to workerd's stdout) the ticks collapse into one sample, or
 * pile up at the call. The sample COUNT thus roughly follows the thread's CPU; the TIME
 * of a sample (the gap to the next one, as DevTools counts it) is wall time, and puts
 * every wait on whatever ran just before it.
 */
function analyse(profiles, scriptName) {
  const fn = new Map(); // key → { label, category, samples, totalSamples, time, totalTime }
  let sampleCount = 0;
  for (const profile of profiles) {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parentOf = new Map();
    for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
    const keyOf = new Map(); // node id → key
    const keyFor = (id) => {
      if (keyOf.has(id)) return keyOf.get(id);
      const f = byId.get(id).callFrame;
      const category = categoryOf(f, scriptName);
      let key = `${f.functionName}|${f.url}|${f.lineNumber}|${f.columnNumber}`;
      let label = frameLabel(f, category);
      // Functions implemented in C++ often have no name (workerd's console methods, its
      // entry into a handler): all would be one "(anonymous)"; their caller tells them apart.
      if (!f.functionName && !f.url && parentOf.has(id)) {
        const parent = keyFor(parentOf.get(id));
        key += `|${parent}`;
        label = `(anonymous native) ← ${fn.get(parent).label}`;
      }
      keyOf.set(id, key);
      if (!fn.has(key)) fn.set(key, { label, category, samples: 0, totalSamples: 0, time: 0, totalTime: 0 });
      return key;
    };
    for (const n of profile.nodes) keyFor(n.id);
    const { samples, timeDeltas } = profile;
    const times = new Float64Array(samples.length);
    let t = profile.startTime;
    for (let i = 0; i < samples.length; i += 1) {
      t += timeDeltas[i];
      times[i] = t;
    }
    for (let i = 0; i < samples.length; i += 1) {
      const dt = Math.max(0, (i + 1 < samples.length ? times[i + 1] : profile.endTime) - times[i]);
      const own = fn.get(keyOf.get(samples[i]));
      own.samples += 1;
      own.time += dt;
      const seen = new Set();
      for (let id = samples[i]; id !== undefined; id = parentOf.get(id)) {
        const key = keyOf.get(id);
        if (seen.has(key)) continue; // recursion: count a function once per sample
        seen.add(key);
        fn.get(key).totalSamples += 1;
        fn.get(key).totalTime += dt;
      }
    }
    sampleCount += samples.length;
  }
  const categories = new Map();
  for (const f of fn.values()) {
    const c = categories.get(f.category) ?? { category: f.category, samples: 0, time: 0, functions: 0 };
    c.samples += f.samples;
    c.time += f.time;
    if (f.samples > 0) c.functions += 1;
    categories.set(f.category, c);
  }
  const idle = categories.get('idle') ?? { samples: 0, time: 0 };
  const allTime = [...categories.values()].reduce((n, c) => n + c.time, 0);
  return {
    functions: [...fn.values()],
    categories: [...categories.values()].filter((c) => c.category !== '(root)'),
    samples: sampleCount,
    busySamples: sampleCount - idle.samples,
    busyTime: allTime - idle.time,
    idleTime: idle.time,
  };
}

// ------------------------------------------------------------------ output

function table(rows, columns) {
  const widths = columns.map((c) => Math.max(c.title.length, ...rows.map((r) => String(c.value(r)).length)));
  const line = (cells) =>
    cells
      .map((cell, i) => (columns[i].left ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.title)), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(columns.map((c) => c.value(r))))].join('\n');
}

/**
 * The tables: per category, the top functions by self samples, and by total samples.
 * `cpuUsPerReq` (the isolate thread's CPU per request) turns a share of the busy
 * samples into µs per request; the samples' wall time is shown beside it.
 */
function report(result, { requests, top, cpuUsPerReq }) {
  const share = (samples) => samples / Math.max(1, result.busySamples);
  const pct = (samples) => `${(100 * share(samples)).toFixed(1)}%`;
  const us = (samples) => (share(samples) * cpuUsPerReq).toFixed(1);
  const wall = (time) => (time / requests).toFixed(1);
  const cut = (text, n = 110) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);
  const usTitle = 'µs/req';
  const busy = (f) => f.category !== 'idle' && f.category !== '(root)';
  const selfRows = result.functions.filter((f) => busy(f) && f.samples > 0).sort((a, b) => b.samples - a.samples || b.time - a.time).slice(0, top);
  // Total time of (program) and GC is their self time; the interesting totals are of code.
  const totalRows = result.functions
    .filter((f) => busy(f) && f.category !== '(program)' && f.category !== '(garbage collector)' && f.totalSamples > 0)
    .sort((a, b) => b.totalSamples - a.totalSamples)
    .slice(0, Math.min(top, 25));
  const out = [];
  out.push(
    table(
      [...result.categories].sort((a, b) => (a.category === 'idle') - (b.category === 'idle') || b.samples - a.samples),
      [
        { title: 'category', value: (c) => c.category, left: true },
        { title: '% busy', value: (c) => (c.category === 'idle' ? '' : pct(c.samples)) },
        { title: usTitle, value: (c) => (c.category === 'idle' ? '' : us(c.samples)) },
        { title: 'samples', value: (c) => c.samples },
        { title: 'wall µs/req', value: (c) => wall(c.time) },
        { title: 'functions', value: (c) => c.functions },
      ],
    ),
  );
  out.push('', `Top ${selfRows.length} functions by self samples:`);
  out.push(
    table(selfRows, [
      { title: 'self %', value: (f) => pct(f.samples) },
      { title: usTitle, value: (f) => us(f.samples) },
      { title: 'samples', value: (f) => f.samples },
      { title: 'wall µs/req', value: (f) => wall(f.time) },
      { title: 'total %', value: (f) => pct(f.totalSamples) },
      { title: 'category', value: (f) => f.category, left: true },
      { title: 'function', value: (f) => cut(f.label), left: true },
    ]),
  );
  out.push('', `Top ${totalRows.length} functions by total samples (self + callees):`);
  out.push(
    table(totalRows, [
      { title: 'total %', value: (f) => pct(f.totalSamples) },
      { title: usTitle, value: (f) => us(f.totalSamples) },
      { title: 'category', value: (f) => f.category, left: true },
      { title: 'function', value: (f) => cut(f.label), left: true },
    ]),
  );
  return out.join('\n');
}

// ------------------------------------------------------------------ main

// workerd runs the isolate on its main thread; the others are V8's helpers (GC,
// compilation) and, while profiling, the sampler ("v8:ProfEvntProc").
const MAIN_THREAD = 'workerd';

/** Per thread name, CPU µs per request between two threadCpuOf() snapshots. */
function cpuPerRequest(before, after, requests) {
  return [...after].map(([name, us]) => [name, (us - (before.get(name) ?? 0)) / requests]).filter(([, us]) => us > 0);
}

/**
 * Runs `drive` under the profiler. The thread CPU is read before Profiler.stop: the
 * sampler's thread ends with it, and its CPU with it.
 */
async function underProfiler(worker, interval, drive) {
  const session = await inspect(worker);
  try {
    await session.send('Profiler.enable');
    await session.send('Profiler.setSamplingInterval', { interval });
    const before = threadCpuOf(worker.pid);
    await session.send('Profiler.start');
    const measured = await drive();
    const after = threadCpuOf(worker.pid);
    const { profile } = await session.send('Profiler.stop');
    return { profile, measured, before, after };
  } finally {
    session.close();
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const kind = opts.peer ? 'peer' : 'ours';
  if (kind === 'ours') checkBuild(opts.build);
  else buildPeer();
  // workerd names a module by its path under modulesRoot.
  const scriptName = kind === 'ours' ? 'index.js' : path.basename(PEER_BUNDLE);
  const script = kind === 'ours' ? { buildDir: opts.build } : {};

  const ctx = {};
  ctx.keys = await makeKeys();
  ctx.jwksServer = await startJwksServer(ctx.keys.jwks);
  onCleanup(() => ctx.jwksServer.close());
  ctx.stack = await startStackProcess();
  onCleanup(() => ctx.stack.close());
  Object.assign(ctx, await seed(ctx.stack));
  Object.assign(ctx, await benchTokens(ctx.keys));
  const fig = figures(ctx).find((f) => f.id === ROUTES[opts.route].figure);

  // Consecutive requests get distinct bodies and (update) tasks, as in run.mjs.
  let offset = 0;
  const run = async (worker, requests) => {
    const base = offset;
    offset += requests;
    const r = await load(worker.url, loadOptions(fig, { requests, offset: base, maxMs: 120_000 }));
    if (r.errors) throw new Error(`${fig.label} on ${kind}: ${r.firstError}\n${worker.logLines().join('\n')}`);
    return r;
  };
  const start = async ({ inspector = true } = {}) => {
    const worker = await startWorker(kind, bindingsFor(ctx, ctx.stack, kind), script, inspector ? { inspectorPort: 0 } : {});
    onCleanup(() => worker.close());
    return worker;
  };

  const profiles = [];
  const latencies = [];
  const profiledCpu = new Map();
  let unprofiledCpu;
  let unprofiledLatencies;
  let requests;
  if (opts.cold) {
    requests = opts.requests; // one per isolate
    log(`profile: ${kind} ${fig.label}, the first request of ${requests} fresh isolates with and ${requests} without the inspector, sampling every ${opts.interval} µs`);
    // The profiler makes a first request about twice as slow (it records every function
    // V8 compiles), so as many isolates run it without any inspector, for the real figure.
    const plain = new Map();
    unprofiledLatencies = [];
    for (let i = 0; i < requests; i += 1) {
      for (const profiled of i % 2 === 0 ? [true, false] : [false, true]) {
        const started = mark();
        const worker = await start({ inspector: profiled });
        if (profiled) {
          const p = await underProfiler(worker, opts.interval, () => run(worker, 1));
          profiles.push(p.profile);
          latencies.push(...p.measured.samples);
          for (const [name, us] of cpuPerRequest(p.before, p.after, 1)) profiledCpu.set(name, (profiledCpu.get(name) ?? 0) + us);
        } else {
          const before = threadCpuOf(worker.pid);
          unprofiledLatencies.push(...(await run(worker, 1)).samples);
          for (const [name, us] of cpuPerRequest(before, threadCpuOf(worker.pid), 1)) plain.set(name, (plain.get(name) ?? 0) + us);
        }
        await cleanup(started); // this isolate only
      }
    }
    unprofiledCpu = [...plain].map(([name, us]) => [name, us / requests]);
  } else {
    requests = opts.requests;
    const worker = await start();
    if (opts.warmup) await run(worker, opts.warmup);
    // The same number of requests once without the sampler, whose signals slow the
    // isolate's thread: this thread's CPU is what the shares of samples become µs with.
    const before = threadCpuOf(worker.pid);
    await run(worker, requests);
    unprofiledCpu = cpuPerRequest(before, threadCpuOf(worker.pid), requests);
    log(`profile: ${kind} ${fig.label}, ${requests} requests after ${opts.warmup} warm-up and ${requests} unprofiled, sampling every ${opts.interval} µs`);
    const p = await underProfiler(worker, opts.interval, () => run(worker, requests));
    profiles.push(p.profile);
    latencies.push(...p.measured.samples);
    for (const [name, us] of cpuPerRequest(p.before, p.after, 1)) profiledCpu.set(name, us);
  }

  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const files = profiles.map((profile, i) => {
    const file = path.join(RESULTS_DIR, `profile-${kind}-${opts.route}${opts.cold ? `-cold-${i + 1}` : ''}.cpuprofile`);
    fs.writeFileSync(file, JSON.stringify(profile));
    return path.relative(ROOT, file);
  });

  const result = analyse(profiles, scriptName);
  const sampledMs = profiles.reduce((n, p) => n + (p.endTime - p.startTime), 0) / 1000;
  const profiledPerReq = [...profiledCpu].map(([name, us]) => [name, us / requests]);
  const threadLine = (pairs) => pairs.map(([name, us]) => `${name} ${us.toFixed(0)}`).join(', ');
  const mainCpu = unprofiledCpu.find(([name]) => name === MAIN_THREAD)?.[1] ?? 0;
  console.log('');
  console.log(`${kind} — ${fig.label}${opts.cold ? ` — first request of ${requests} fresh isolates` : ''}`);
  console.log(
    `${requests} request(s), p50 ${percentile(latencies, 50).toFixed(3)} ms; ${result.samples} samples (${result.busySamples} busy) in ${sampledMs.toFixed(0)} ms, ` +
      `one per ${((sampledMs * 1000) / Math.max(1, result.samples)).toFixed(0)} µs (${opts.interval} µs asked)`,
  );
  if (unprofiledLatencies) console.log(`without the inspector: p50 ${percentile(unprofiledLatencies, 50).toFixed(3)} ms`);
  console.log(`workerd CPU µs/req by thread (/proc, ticks of ${(1e3 / CLK_TCK).toFixed(0)} ms):`);
  console.log(`  unprofiled: ${threadLine(unprofiledCpu)}`);
  console.log(`  profiled:   ${threadLine(profiledPerReq)}`);
  console.log(`isolate thread, sampled wall time: busy ${(result.busyTime / requests).toFixed(1)} µs/req, idle ${(result.idleTime / requests).toFixed(1)} µs/req`);
  console.log(
    `µs/req below = share of busy samples × unprofiled ${MAIN_THREAD} thread CPU (${mainCpu.toFixed(0)} µs/req)` +
      (opts.cold ? '; coarse: one or two clock ticks per isolate' : ''),
  );
  console.log('');
  console.log(report(result, { requests, top: opts.top, cpuUsPerReq: mainCpu }));
  console.log('');
  console.log(`profile: raw profile${files.length > 1 ? 's' : ''} in ${files.length > 2 ? `${files[0]} … ${files.at(-1)}` : files.join(', ')}`);
}

main()
  .catch((err) => {
    if (err instanceof UsageError) log(`profile: ${err.message}\nusage: node bench/profile.mjs [route] [--requests N] [--cold] [--peer] (see bench/README.md)`);
    else log(`profile: failed: ${err?.stack ?? err}`);
    process.exitCode = 1;
  })
  .finally(cleanup);
