// The workers under test, each in its own Miniflare instance, i.e. its own workerd
// process, reached through its own direct socket (no Miniflare entry worker in front
// of it), with the PID of that workerd for CPU accounting. Ours — and the previous
// release ("base", built by lib/baseline.mjs) — are loaded with the test harness's
// options (tests/support/worker.mjs), only the build directory differs, so the bench
// measures the worker exactly as the suites run it.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Miniflare } from 'miniflare';
import { builtWorkerOptions, BUILD_DIR, compatibilityDate, ROOT_DIR } from '../../tests/support/worker.mjs';
import { childPids } from './proc.mjs';

export const ROOT = ROOT_DIR;
export const PEER_SOURCE = path.join(ROOT, 'bench', 'peer', 'worker.mjs');
export const PEER_BUNDLE = path.join(ROOT, 'bench', 'results', '.build', 'peer.mjs');

/** Bundles the peer worker with esbuild, as wrangler would for a Workers project. */
export function buildPeer() {
  fs.mkdirSync(path.dirname(PEER_BUNDLE), { recursive: true });
  execFileSync(
    path.join(ROOT, 'node_modules', '.bin', 'esbuild'),
    [
      PEER_SOURCE,
      '--bundle',
      '--format=esm',
      '--platform=neutral',
      '--main-fields=browser,module,main',
      '--conditions=worker,browser',
      '--log-level=warning',
      `--outfile=${PEER_BUNDLE}`,
    ],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const bytes = fs.readFileSync(PEER_BUNDLE);
  return { rawBytes: bytes.length, gzipBytes: gzipSync(bytes).length };
}

/**
 * The harness's options for a built worker, loaded from `buildDir` (index.js +
 * index_bg.wasm) instead of this checkout's build/.
 */
function builtWorkerFrom(buildDir, date) {
  return {
    ...builtWorkerOptions(),
    scriptPath: path.join(buildDir, 'index.js'),
    // workerd refuses modules outside the root; the wasm sits next to index.js.
    modulesRoot: buildDir,
    ...(date ? { compatibilityDate: date } : {}),
  };
}

/** Miniflare script options (with the compatibility date) per kind of worker. */
const SCRIPTS = {
  ours: ({ buildDir = BUILD_DIR } = {}) => builtWorkerFrom(buildDir),
  base: ({ buildDir, compatibilityDate: date } = {}) => {
    if (!buildDir) throw new Error('the base worker needs its build directory');
    return builtWorkerFrom(buildDir, date);
  },
  peer: () => ({
    modules: true,
    scriptPath: PEER_BUNDLE,
    modulesRoot: path.dirname(PEER_BUNDLE),
    compatibilityDate: compatibilityDate(),
  }),
};

/**
 * Starts `kind` ('ours' | 'peer' | 'base') in a fresh Miniflare instance with
 * `bindings`; `script` gives a built worker's `buildDir` (required for 'base') and
 * optionally its `compatibilityDate`. Instances must be started one at a time: the new
 * workerd is found as the child process that was not there before. `inspectorPort`
 * (0: any free port) opens workerd's V8 inspector, for bench/profile.mjs.
 * @returns {Promise<{ kind: string, url: URL, pid: number, startupMs: number, logLines(): string[],
 *   inspectorUrl(): Promise<URL>, close(): Promise<void> }>}
 */
export async function startWorker(kind, bindings, script = {}, { inspectorPort } = {}) {
  const before = new Set(childPids(process.pid, 'workerd'));
  const recent = [];
  const t0 = process.hrtime.bigint();
  const mf = new Miniflare({
    ...SCRIPTS[kind](script),
    bindings,
    unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
    ...(inspectorPort === undefined ? {} : { inspectorPort }),
    // The Rust worker writes one log line per request; keep only the last few (for
    // error reports) and never let the pipe fill up.
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        stream.setEncoding('utf8');
        stream.on('data', (chunk) => {
          recent.push(chunk);
          if (recent.length > 20) recent.shift();
        });
      }
    },
  });
  let url;
  try {
    url = await mf.unsafeGetDirectURL();
  } catch (err) {
    await mf.dispose().catch(() => {});
    throw err;
  }
  const startupMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const pids = childPids(process.pid, 'workerd').filter((pid) => !before.has(pid));
  if (pids.length !== 1) {
    await mf.dispose().catch(() => {});
    throw new Error(`expected one new workerd process for ${kind}, found ${pids.length}`);
  }
  return {
    kind,
    url,
    pid: pids[0],
    startupMs,
    logLines: () => recent.join('').split('\n').slice(-20),
    inspectorUrl: () => mf.getInspectorURL(),
    close: () => mf.dispose(),
  };
}
