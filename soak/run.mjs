// `npm run soak`: a fault-injecting soak of the built worker in workerd against the
// local stack (docs/resilience.md, "Soak").
//
//   node soak/run.mjs [--seconds 60] [--clients 32] [--users 100] [--backend pglite|postgres|both]
//                     [--memory-bound-mb 128] [--warmup-seconds 45] [--report soak/results/<backend>.json]
//
// Environment equivalents: SOAK_SECONDS, SOAK_CLIENTS, SOAK_USERS, SOAK_BACKEND,
// SOAK_MEMORY_BOUND_MB, SOAK_WARMUP_SECONDS. `postgres` uses TEST_DATABASE_URL (default
// postgresql://postgres@127.0.0.1:5432/test) and a scratch database of its own.
//
// Clients do mixed CRUD on tasks; each task is written only by the client that created
// it, one request at a time, so its writes reach the database in a known order and the
// audit can say, for every write that got a 503 or no answer, whether it was applied
// in full or not at all. Every full write carries a unique marker in its title.
//
// Adding an operation (conditional writes, idempotent retries): an entry in OPS with
// its weight, what it sends, which statuses it expects, and how it changes the task's
// state (`apply`); the audit simulates states through `apply` and needs nothing else.

import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { randomBytes } from 'node:crypto';
import { Miniflare } from 'miniflare';
import { childPids } from '../bench/lib/proc.mjs';
import { startLocalStack, taskDb } from '../tests/support/stack.mjs';
import { builtWorkerOptions, ROOT_DIR } from '../tests/support/worker.mjs';
import { startIssuer, startSqlProxy } from './faults.mjs';

const ISSUER = 'https://issuer.soak.test';
const AUDIENCE = 'task-api';
/** JWKS refresh cooldown and negative cache of the worker (src/auth/jwks.rs). */
const JWKS_COOLDOWN_MS = 30_000;
const JWKS_NEGATIVE_MS = 5_000;
/** Findings whose fix belongs in src/ (docs/resilience.md): reported, not failed on. */
const PENDING = new Set();

// ------------------------------------------------------------------------- options
function options() {
  const args = process.argv.slice(2);
  const arg = (name, env, fallback) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : (process.env[env] ?? fallback);
  };
  return {
    seconds: Number(arg('seconds', 'SOAK_SECONDS', 60)),
    clients: Number(arg('clients', 'SOAK_CLIENTS', 32)),
    users: Number(arg('users', 'SOAK_USERS', 100)),
    backend: arg('backend', 'SOAK_BACKEND', 'both'),
    memoryBoundMb: Number(arg('memory-bound-mb', 'SOAK_MEMORY_BOUND_MB', 128)),
    warmupSeconds: Number(arg('warmup-seconds', 'SOAK_WARMUP_SECONDS', 45)),
    report: arg('report', 'SOAK_REPORT', ''),
  };
}

/** The fault schedule, as fractions of the run (so a 20 s slice has every phase). */
function schedule(durationMs) {
  const at = (f) => Math.round(f * durationMs);
  return {
    // SQL faults first: once the key has rotated, an isolate holding the old set
    // refuses the new tokens for a while (finding rotation-401), which would starve
    // later windows of database traffic.
    sql: [
      { mode: 'latency', from: at(0.08), to: at(0.18) },
      { mode: '5xx', from: at(0.2), to: at(0.3) },
      { mode: 'drop', from: at(0.32), to: at(0.42) },
      { mode: 'truncate', from: at(0.44), to: at(0.54) },
    ],
    // Long enough that a fresh isolate (≈ 1–2 s to start on a busy 2-core machine)
    // is up and asking for keys while the JWKS is still gone, even in a 20 s slice.
    jwksDown: { from: at(0.58), to: at(0.76) },
    freshIsolates: [at(0.58), at(0.88)],
    rotate: at(0.66),
  };
}

// ------------------------------------------------------------------------- workers
function rssKb(pid) {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line.split(/\s+/)[1]);
}

async function startInstance(bindings, logSink) {
  const before = new Set(childPids(process.pid, 'workerd'));
  const mf = new Miniflare({
    ...builtWorkerOptions(),
    bindings,
    unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) readline.createInterface({ input: stream }).on('line', logSink);
    },
  });
  const url = await mf.unsafeGetDirectURL();
  const pids = childPids(process.pid, 'workerd').filter((p) => !before.has(p));
  return { mf, url: url.toString().replace(/\/$/, ''), pid: pids.length === 1 ? pids[0] : null, startedAt: Date.now() };
}

// ------------------------------------------------------------------------- requests
async function send(instance, token, method, pathname, body, extraHeaders = {}) {
  const headers = { authorization: `Bearer ${token}`, ...extraHeaders };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const t0 = Date.now();
  try {
    const res = await fetch(instance.url + pathname, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // kept as text
    }
    return { status: res.status, type: res.headers.get('content-type'), auth: res.headers.get('www-authenticate'), etag: res.headers.get('etag'), json, text, t0, t1: Date.now() };
  } catch (err) {
    return { status: 0, error: String(err?.name ?? err), t0, t1: Date.now() };
  }
}

async function warmUp(instance, token, maxSeconds, log) {
  const started = Date.now();
  let requests = 0;
  let last = instance.pid ? rssKb(instance.pid) : 0;
  let steady = false;
  const load = Array.from({ length: 32 }, async () => {
    while (!steady && Date.now() - started < maxSeconds * 1000) {
      const res = await send(instance, token, 'GET', '/api/me');
      if (res.status !== 200) throw new Error(`warm-up: /api/me answered ${res.status}`);
      requests += 1;
    }
  });
  const watch = (async () => {
    while (!steady && Date.now() - started < maxSeconds * 1000) {
      await new Promise((r) => setTimeout(r, 5000));
      const rss = instance.pid ? rssKb(instance.pid) : 0;
      // Less than 2 % in 5 s, after the first 100 000 requests: level. (Growth comes
      // in steps, so a quiet 5 s early on says nothing.)
      if (requests >= 100_000 && rss - last < last * 0.02) steady = true;
      last = rss;
    }
  })();
  await Promise.all([...load, watch]);
  log(`warm-up: ${requests} requests in ${Math.round((Date.now() - started) / 1000)} s, RSS ${Math.round(last / 1024)} MiB${steady ? ' (level)' : ' (still growing: raise --warmup-seconds)'}`);
  return { requests, rssKb: last, steady };
}

// ------------------------------------------------------------------------- operations
/** A task's state as the audit compares it; `null` is "no row". */
const stateOf = (b) => ({ title: b.title, description: b.description ?? null, completed: b.completed ?? false });

/**
 * Each operation: `weight`, `make(ctx)` → the request (or null to skip), and for
 * writes `apply(state, request)` → the state after it (null: deleted).
 */
const OPS = {
  create: { weight: 18 },
  // A create with an Idempotency-Key, retried once with the same key when the first
  // answer was a 201 or was lost: never two rows, and the same 201 both times.
  idempotentCreate: { weight: 7 },
  get: { weight: 12 },
  list: { weight: 12 },
  put: { weight: 12, apply: (_, w) => stateOf(w.body) },
  patch: { weight: 8, apply: (_, w) => stateOf(w.body) },
  // A PATCH with If-Match of the version last seen: 200, or 412 (another write came
  // first; nothing written) — the audit treats a 412 like any refused write.
  conditionalPatch: { weight: 4, apply: (_, w) => stateOf(w.body) },
  complete: { weight: 8, apply: (s, w) => ({ ...s, completed: w.body.completed }) },
  delete: { weight: 8, apply: () => null },
  crossUser: { weight: 5 },
};
const OP_NAMES = Object.keys(OPS);
const TOTAL_WEIGHT = OP_NAMES.reduce((n, k) => n + OPS[k].weight, 0);
function pickOp() {
  let r = Math.random() * TOTAL_WEIGHT;
  for (const name of OP_NAMES) if ((r -= OPS[name].weight) < 0) return name;
  return 'get';
}

// ------------------------------------------------------------------------- one backend
async function soak(backend, opts) {
  process.env.TEST_BACKEND = backend;
  if (backend === 'postgres') process.env.TEST_DATABASE_URL ||= 'postgresql://postgres@127.0.0.1:5432/test';
  const durationMs = opts.seconds * 1000;
  const plan = schedule(durationMs);
  const run = randomBytes(3).toString('hex');
  const log = (line) => console.error(`soak[${backend}] ${line}`);

  const stack = await startLocalStack({ log: () => {}, warn: () => {} });
  const proxy = await startSqlProxy({ forwardTo: stack.sqlUrl });
  const issuer = await startIssuer({ issuer: ISSUER, audience: AUDIENCE });
  const bindings = {
    AUTH_ISSUER: ISSUER,
    AUTH_AUDIENCE: AUDIENCE,
    AUTH_JWKS_URL: issuer.jwksUrl,
    DATABASE_URL: 'postgresql://soak:soak-password@db.soak.test/tasks',
    NEON_SQL_ENDPOINT: proxy.url,
  };
  const workerLog = [];
  const instances = [await startInstance(bindings, (l) => workerLog.push(l))];
  const users = Array.from({ length: opts.users }, (_, i) => `soak-user-${i}`);
  const events = []; // every request: { op, status, t0, t1, instance, ... }
  const ledger = []; // every write: { client, kind, marker, taskKey, body, status, res }
  const problems = [];
  const violation = (what, detail) => problems.push({ what, detail });

  // Warm-up, before the clock starts: workerd's RSS grows for the first ~100 000
  // requests (V8 heap and code, wasm memory's high-water mark) and then levels off
  // (≈ 285 MiB here for /api/me at 32 clients). The memory check compares the end of
  // the run with that level, so it sees growth the run itself causes.
  const warm = await warmUp(instances[0], await issuer.token(users[0]), opts.warmupSeconds, log);
  const origin = Date.now();
  const now = () => Date.now() - origin;
  const inSqlWindow = (t0, t1) => plan.sql.some((w) => t0 - origin <= w.to + 500 && t1 - origin >= w.from);
  // A cold isolate answers 503 while the JWKS is gone and for the negative-cache time after.
  const inJwksWindow = (t0, t1) => t0 - origin <= plan.jwksDown.to + JWKS_NEGATIVE_MS + 1000 && t1 - origin >= plan.jwksDown.from;
  let jwksBackAt = null;

  // Timeline driver: faults on and off, fresh isolates, the key rotation.
  const starting = [];
  const timeline = (async () => {
    const until = (t) => new Promise((r) => setTimeout(r, Math.max(0, t - now())));
    const steps = [];
    for (const w of plan.sql) {
      steps.push([w.from, () => ((proxy.mode = w.mode), log(`t=${now()}ms SQL fault ${w.mode} on`))]);
      steps.push([w.to, () => ((proxy.mode = 'ok'), log(`t=${now()}ms SQL fault ${w.mode} off`))]);
    }
    steps.push([plan.jwksDown.from, () => ((issuer.down = true), log(`t=${now()}ms JWKS gone`))]);
    steps.push([plan.jwksDown.to, () => ((issuer.down = false), (jwksBackAt = Date.now()), log(`t=${now()}ms JWKS back`))]);
    steps.push([plan.rotate, async () => (await issuer.rotate(), log(`t=${now()}ms key rotated to ${issuer.kid()}`))]);
    for (const t of plan.freshIsolates) {
      // Not awaited: the schedule goes on while workerd starts.
      steps.push([t, () => {
        starting.push(startInstance(bindings, (l) => workerLog.push(l)).then((i) => {
          instances.push(i);
          log(`t=${now()}ms fresh isolate #${instances.length} serving`);
        }));
      }]);
    }
    steps.sort((a, b) => a[0] - b[0]);
    for (const [t, step] of steps) {
      await until(t);
      await step();
    }
  })();

  const warmRss = instances[0].pid ? rssKb(instances[0].pid) : null;
  const rssSeries = []; // [s, kB] of the first workerd, every 5 s
  const sampler = setInterval(() => {
    if (instances[0].pid) rssSeries.push([Math.round(now() / 1000), rssKb(instances[0].pid)]);
  }, 5000);

  // ---- clients
  async function client(c) {
    const tasks = []; // { id, user, state (as last known), mayBeGone }
    let seq = 0;
    const marker = (kind, user) => `soak:${run}:u${users.indexOf(user)}:c${c}:${kind}${(seq += 1)}`;
    while (now() < durationMs) {
      const op = pickOp();
      const instance = instances[Math.floor(Math.random() * instances.length)];
      const task = tasks.length ? tasks[Math.floor(Math.random() * tasks.length)] : null;
      const user = task?.user ?? users[Math.floor(Math.random() * users.length)];
      const token = await issuer.token(user);
      let req;
      switch (op === 'create' || !task ? (['get', 'put', 'patch', 'conditionalPatch', 'complete', 'delete', 'crossUser'].includes(op) ? 'create' : op) : op) {
        case 'create': {
          const title = marker('c', user);
          req = { kind: 'create', method: 'POST', path: '/api/tasks', body: { title, description: Math.random() < 0.5 ? null : `d-${title}`, completed: Math.random() < 0.3 } };
          break;
        }
        case 'idempotentCreate': {
          const title = marker('i', user);
          req = { kind: 'create', idempotent: true, method: 'POST', path: '/api/tasks', body: { title, description: null, completed: false }, headers: { 'idempotency-key': `key-${title}` } };
          break;
        }
        case 'conditionalPatch': {
          const title = marker('m', user);
          const headers = task.version ? { 'if-match': `"${task.version}"` } : {};
          req = { kind: 'conditionalPatch', method: 'PATCH', path: `/api/tasks/${task.id}`, body: { title, description: `d-${title}`, completed: Math.random() < 0.5 }, headers };
          break;
        }
        case 'list':
          req = { kind: 'list', method: 'GET', path: `/api/tasks?limit=${1 + Math.floor(Math.random() * 20)}&status=${['all', 'pending', 'completed'][seq % 3]}` };
          break;
        case 'get':
          req = { kind: 'get', method: 'GET', path: `/api/tasks/${task.id}` };
          break;
        case 'put': {
          const title = marker('p', user);
          req = { kind: 'put', method: 'PUT', path: `/api/tasks/${task.id}`, body: { title, description: `d-${title}`, completed: Math.random() < 0.5 } };
          break;
        }
        case 'patch': {
          const title = marker('a', user);
          req = { kind: 'patch', method: 'PATCH', path: `/api/tasks/${task.id}`, body: { title, description: Math.random() < 0.5 ? null : `d-${title}`, completed: Math.random() < 0.5 } };
          break;
        }
        case 'complete':
          req = { kind: 'complete', method: 'PATCH', path: `/api/tasks/${task.id}/complete`, body: { completed: Math.random() < 0.5 } };
          break;
        case 'delete':
          req = { kind: 'delete', method: 'DELETE', path: `/api/tasks/${task.id}` };
          break;
        case 'crossUser': {
          // Another user writes to this task: must be a 404 and change nothing.
          const other = users[(users.indexOf(user) + 1 + Math.floor(Math.random() * (users.length - 1))) % users.length];
          req = { kind: 'crossUser', method: 'PATCH', path: `/api/tasks/${task.id}`, body: { title: `XUSER:${run}:${other}` }, as: other };
          break;
        }
        default:
          throw new Error(op);
      }
      let res = await send(instance, req.as ? await issuer.token(req.as) : token, req.method, req.path, req.body, req.headers);
      if (req.idempotent && (res.status === 201 || res.status === 503 || res.status === 0)) {
        // The retry a client makes after a lost answer (or a duplicate it sends anyway).
        const again = await send(instance, token, req.method, req.path, req.body, req.headers);
        if (res.status === 201 && again.status === 201 && again.text !== res.text) {
          violation('an idempotent retry answered another 201', JSON.stringify({ first: res.json, again: again.json }));
        }
        if (again.status === 201 || (res.status !== 201 && again.status !== 0)) res = again;
      }
      const event = { op: req.idempotent ? 'idempotentCreate' : req.kind, status: res.status, t0: res.t0, t1: res.t1, instance: instances.indexOf(instance), kid: issuer.kid(), auth: res.auth };
      events.push(event);
      if (res.status >= 400 && res.type !== 'application/problem+json') violation('error without problem+json', `${req.method} ${req.path} → ${res.status} ${res.type}`);

      const ambiguous = res.status === 503 || res.status === 0;
      const isWrite = ['create', 'put', 'patch', 'conditionalPatch', 'complete', 'delete'].includes(req.kind);
      if (isWrite) {
        ledger.push({ client: c, kind: req.kind, taskId: req.kind === 'create' ? (res.status === 201 ? res.json?.id : null) : task.id, user, body: req.body, status: res.status, ambiguous, t0: res.t0 });
      }
      if (req.kind === 'create' && res.status === 201) {
        const t = res.json;
        if (!t || t.user_id !== user || t.title !== req.body.title || t.completed !== req.body.completed || t.description !== req.body.description) {
          violation('create answered with another task', JSON.stringify({ sent: req.body, got: t }));
        }
        if (t?.id) tasks.push({ id: t.id, user, mayBeGone: false, version: t.version });
      }
      if (task && res.status === 200 && typeof res.json?.version === 'number') task.version = res.json.version;
      if (req.kind === 'conditionalPatch' && res.status === 412) task.version = Number(JSON.parse(res.etag ?? 'null')) || task.version;
      if (['put', 'patch', 'conditionalPatch', 'complete'].includes(req.kind) && res.status === 200) {
        const t = res.json;
        const fits = req.kind === 'complete' ? t?.completed === req.body.completed : JSON.stringify(t && stateOf(t)) === JSON.stringify(stateOf(req.body));
        if (!t || t.id !== task.id || t.user_id !== user || !fits) violation('write answered with another state', JSON.stringify({ sent: req.body, got: t }));
      }
      if (req.kind === 'get' && res.status === 200 && (res.json?.id !== task.id || res.json?.user_id !== user)) violation('get answered another task', JSON.stringify(res.json));
      if (req.kind === 'list' && res.status === 200 && (!Array.isArray(res.json) || res.json.some((t) => t.user_id !== user))) violation("list shows another user's task", req.path);
      if (req.kind === 'crossUser' && ![404, 401, 503, 0].includes(res.status)) violation('cross-user write not a 404', `${res.status}`);
      if (task && ['get', 'put', 'patch', 'conditionalPatch', 'complete', 'delete'].includes(req.kind)) {
        const gone = () => tasks.includes(task) && tasks.splice(tasks.indexOf(task), 1);
        // A 404 for a task of ours is only fine once a delete of it may have applied.
        if (res.status === 404) {
          if (!task.mayBeGone) violation('own task answered 404 without a delete', `${req.method} ${req.path}`);
          gone();
        }
        if (req.kind === 'delete' && res.status === 204) gone();
        if (req.kind === 'delete' && ambiguous) task.mayBeGone = true;
      }
    }
  }

  log(`run ${run}: ${opts.clients} clients, ${opts.users} users, ${opts.seconds} s`);
  await Promise.all(Array.from({ length: opts.clients }, (_, c) => client(c)));
  await timeline;
  await Promise.all(starting);
  clearInterval(sampler);
  const endRss = instances[0].pid ? rssKb(instances[0].pid) : null;
  proxy.mode = 'ok';
  const drained = await proxy.drained();
  if (!drained) violation('SQL proxy did not drain', `${proxy.pending} requests still in flight`);

  // ---- statuses
  const statusCounts = {};
  const unexpected = {};
  let rotation401 = 0;
  for (const e of events) {
    statusCounts[e.status] = (statusCounts[e.status] ?? 0) + 1;
    const ok = [200, 201, 204, 404, 409, 412, 429].includes(e.status);
    // After the key rotated while the JWKS was gone, an isolate holding the old keys
    // cannot judge the new tokens until its next allowed refresh (the 30 s cooldown
    // from its failed attempt): 503, by the token policy — fail closed, never a 401.
    const rotationWindow = issuer.rotatedAt && e.t1 >= issuer.rotatedAt && e.t0 <= (jwksBackAt ?? Date.now()) + JWKS_COOLDOWN_MS + 2000;
    const faultWindow = inSqlWindow(e.t0, e.t1) || inJwksWindow(e.t0, e.t1) || rotationWindow;
    if (ok || ((e.status === 503 || e.status === 0) && faultWindow)) continue;
    if (e.status === 401 && rotationWindow && /no matching key/.test(e.auth ?? '')) {
      rotation401 += 1;
      continue;
    }
    const key = `${e.status} ${e.op} at t=${Math.round((e.t0 - origin) / 100) / 10}s`;
    unexpected[e.status] = unexpected[e.status] ?? [];
    if (unexpected[e.status].length < 5) unexpected[e.status].push(key);
    unexpected[e.status].count = (unexpected[e.status].count ?? 0) + 1;
  }
  for (const [status, list] of Object.entries(unexpected)) violation(`unexpected status ${status}`, `${list.count}× e.g. ${list.join('; ')}`);
  if (rotation401 && !PENDING.has('rotation-401')) violation('401 after key rotation', `${rotation401}`);
  // Every isolate logs one line when it starts: more lines than the instances the soak
  // started means the runtime restarted one (a crash it recovered from silently).
  const isolateLines = workerLog.filter((l) => /"event":"isolate_start"/.test(l)).length;
  if (isolateLines !== instances.length) {
    violation('isolate starts', `${isolateLines} isolate_start lines for ${instances.length} instances started on purpose`);
  }

  // ---- the database, as a superuser (row-level security does not hide anything)
  const db = taskDb(stack);
  const rows = await db.query('SELECT id::text AS id, user_id, title, description, completed FROM tasks ORDER BY id');
  const byId = new Map(rows.map((r) => [r.id, r]));
  const byTitle = new Map();
  for (const r of rows) byTitle.set(r.title, [...(byTitle.get(r.title) ?? []), r]);

  // No cross-user row: every marker names its user; no cross-user write landed.
  let crossUserRows = 0;
  for (const r of rows) {
    const m = /^soak:[0-9a-f]+:u(\d+):/.exec(r.title);
    if (r.title.startsWith('XUSER:') || (m && r.user_id !== users[Number(m[1])]) || !users.includes(r.user_id)) {
      crossUserRows += 1;
      violation('cross-user row', JSON.stringify(r));
    }
  }

  // Creates: a 201 exactly once; a 503/no answer at most once, whole; a refusal never.
  const outcome = { applied: {}, absent: {}, undetermined: {} };
  const tally = (what, kind) => (outcome[what][kind] = (outcome[what][kind] ?? 0) + 1);
  for (const w of ledger.filter((x) => x.kind === 'create')) {
    const same = (byTitle.get(w.body.title) ?? []).filter((r) => String(r.id) !== String(w.taskId));
    if (w.status === 201) {
      if (same.length) violation('created twice', `${w.body.title}: ${same.length} extra rows`);
    } else if (w.ambiguous) {
      if (same.length > 1) violation('ambiguous create applied twice', w.body.title);
      else if (same.length === 1) {
        const r = same[0];
        if (r.description !== w.body.description || r.completed !== w.body.completed || r.user_id !== w.user) violation('create applied in part', JSON.stringify({ sent: w.body, row: r }));
        tally('applied', 'create');
      } else tally('absent', 'create');
    } else if (same.length) violation(`create answered ${w.status} but stored`, w.body.title);
  }

  // Every task with an id: some choice of which ambiguous writes applied explains the row.
  const writesByTask = new Map();
  for (const w of ledger.filter((x) => x.kind !== 'create' && x.taskId != null)) {
    writesByTask.set(String(w.taskId), [...(writesByTask.get(String(w.taskId)) ?? []), w]);
  }
  let unverifiable = 0;
  let tasksChecked = 0;
  for (const created of ledger.filter((x) => x.kind === 'create' && x.status === 201 && x.taskId != null)) {
    tasksChecked += 1;
    const id = String(created.taskId);
    const all = writesByTask.get(id) ?? [];
    // A full write (PUT, PATCH of every field) answered 2xx fixes the whole state, so
    // only what came after it needs enumerating. Before it, an ambiguous delete cannot
    // have applied (the row was still there) and other ambiguous writes were overwritten;
    // no write before it can have been answered 404.
    const cut = all.findLastIndex((w) => ['put', 'patch', 'conditionalPatch'].includes(w.kind) && w.status >= 200 && w.status < 300);
    const before = cut >= 0 ? all.slice(0, cut) : [];
    const writes = cut >= 0 ? all.slice(cut + 1) : all;
    if (before.some((w) => w.status === 404)) {
      violation('a task answered 404 came back', JSON.stringify({ id, writes: all.map((w) => [w.kind, w.status]) }));
      continue;
    }
    for (const w of before.filter((x) => x.ambiguous)) tally(w.kind === 'delete' ? 'absent' : 'undetermined', w.kind);
    const amb = writes.filter((w) => w.ambiguous);
    if (amb.length > 14) {
      unverifiable += 1;
      continue;
    }
    const row = byId.get(id);
    const actual = row ? stateOf(row) : null;
    const matches = [];
    for (let mask = 0; mask < 1 << amb.length; mask += 1) {
      let state = stateOf(cut >= 0 ? all[cut].body : created.body);
      let consistent = true;
      for (const w of writes) {
        const answered2xx = w.status >= 200 && w.status < 300;
        if (w.status === 404) {
          // The database said the task was gone by then.
          if (state !== null) consistent = false;
          continue;
        }
        if (answered2xx && state === null) consistent = false;
        const applied = w.ambiguous ? (mask >> amb.indexOf(w)) & 1 : answered2xx;
        // An ambiguous write to a task already deleted changed nothing (its UPDATE
        // matched no row), whichever way its bit is set.
        if (applied && state !== null) state = OPS[w.kind].apply(state, w);
      }
      if (consistent && JSON.stringify(state) === JSON.stringify(actual)) matches.push(mask);
    }
    if (!matches.length) {
      violation('row matches no order of its writes (half-applied or lost)', JSON.stringify({ id, row: actual, writes: writes.map((w) => [w.kind, w.status, w.body]) }));
      continue;
    }
    amb.forEach((w, i) => {
      const bits = matches.map((m) => (m >> i) & 1);
      tally(bits.every((b) => b) ? 'applied' : bits.every((b) => !b) ? 'absent' : 'undetermined', w.kind);
    });
  }
  const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);

  // ---- memory
  const boundKb = opts.memoryBoundMb * 1024;
  if (warmRss != null && endRss != null && endRss > warmRss + boundKb) violation('workerd memory grew', `${warmRss} kB after warm-up → ${endRss} kB at the end (bound +${opts.memoryBoundMb} MiB)`);

  const writes2xx = ledger.filter((w) => w.status >= 200 && w.status < 300).length;
  const report = {
    backend,
    run,
    seconds: opts.seconds,
    clients: opts.clients,
    users: opts.users,
    requests: events.length,
    requestsPerSecond: Math.round(events.length / opts.seconds),
    statuses: statusCounts,
    statusesByIsolate: events.reduce((acc, e) => {
      const k = `#${e.instance + 1}`;
      acc[k] ??= {};
      acc[k][e.status] = (acc[k][e.status] ?? 0) + 1;
      return acc;
    }, {}),
    byOp: Object.fromEntries(OP_NAMES.map((op) => [op, events.filter((e) => e.op === op).length])),
    sqlProxy: { forwarded: proxy.forwarded, decisions: proxy.counts },
    jwks: { fetches: issuer.hits, refusedWhileDown: issuer.refused, rotatedTo: issuer.kid() },
    isolateStarts: instances.length,
    isolateStartLogLines: workerLog.filter((l) => /"event":"isolate_start"/.test(l)).length,
    writes: { total: ledger.length, answered2xx: writes2xx, ambiguous: ledger.filter((w) => w.ambiguous).length },
    ambiguousWrites: { applied: outcome.applied, absent: outcome.absent, undetermined: outcome.undetermined, totals: { applied: sum(outcome.applied), absent: sum(outcome.absent), undetermined: sum(outcome.undetermined) } },
    tasksChecked,
    tasksUnverifiable: unverifiable,
    rowsInDatabase: rows.length,
    crossUserRows,
    rotation401: { count: rotation401, pending: PENDING.has('rotation-401') },
    memory: { warmup: warm, warmupRssKb: warmRss, endRssKb: endRss, boundMb: opts.memoryBoundMb, seriesKb: rssSeries },
    problems,
    passed: problems.length === 0,
  };

  for (const i of instances) await i.mf.dispose().catch(() => {});
  await proxy.close();
  await issuer.close();
  await stack.close();
  return report;
}

function summary(r) {
  const lines = [
    `soak on ${r.backend}: ${r.requests} requests in ${r.seconds} s (${r.requestsPerSecond}/s), ${r.clients} clients, ${r.users} users`,
    `  statuses: ${JSON.stringify(r.statuses)}   (0 = no answer within 20 s)`,
    `  by isolate: ${JSON.stringify(r.statusesByIsolate)}`,
    `  operations: ${JSON.stringify(r.byOp)}`,
    `  SQL proxy: ${r.sqlProxy.forwarded} forwarded; decisions ${JSON.stringify(r.sqlProxy.decisions)}`,
    `  JWKS: ${r.jwks.fetches} requests, ${r.jwks.refusedWhileDown} refused while down; key now ${r.jwks.rotatedTo}; isolate starts ${r.isolateStarts} (counted from outside)`,
    `  writes: ${r.writes.total}, ${r.writes.answered2xx} answered 2xx (each found exactly once), ${r.writes.ambiguous} got 503/no answer (auth 503s in the JWKS window included: they never reach the database)`,
    `  ambiguous writes: applied in full ${r.ambiguousWrites.totals.applied} ${JSON.stringify(r.ambiguousWrites.applied)}, absent ${r.ambiguousWrites.totals.absent} ${JSON.stringify(r.ambiguousWrites.absent)}, overwritten/undetermined ${r.ambiguousWrites.totals.undetermined}; half-applied 0 unless listed below`,
    `  tasks audited ${r.tasksChecked} (${r.tasksUnverifiable} with too many ambiguous writes to enumerate); rows ${r.rowsInDatabase}; cross-user rows ${r.crossUserRows}`,
    `  401 after rotation (pending finding): ${r.rotation401.count}`,
    `  workerd RSS: ${r.memory.warmupRssKb} kB after warm-up → ${r.memory.endRssKb} kB at the end (bound +${r.memory.boundMb} MiB); every 5 s: ${r.memory.seriesKb.map(([, kb]) => Math.round(kb / 1024)).join(' ')} MiB`,
    ...r.problems.map((p) => `  PROBLEM: ${p.what}: ${p.detail.slice(0, 400)}`),
    `  ${r.passed ? 'PASSED' : 'FAILED'}`,
  ];
  return lines.join('\n');
}

const opts = options();
if (!fs.existsSync(path.join(ROOT_DIR, 'build', 'index_bg.wasm'))) {
  console.error('soak: build/ is missing: run `npm run build` first');
  process.exit(2);
}
const backends = opts.backend === 'both' ? ['pglite', 'postgres'] : [opts.backend];
const reports = [];
for (const backend of backends) {
  const report = await soak(backend, opts);
  reports.push(report);
  console.log(summary(report));
  if (opts.report) {
    const file = opts.report.replace('<backend>', backend);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(report, null, 1));
  }
}
const passed = reports.filter((r) => r.passed).length;
console.log(`soak: ${passed} passed, ${reports.length - passed} failed`);
process.exit(passed === reports.length ? 0 : 1);
