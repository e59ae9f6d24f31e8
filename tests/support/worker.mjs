// The built worker (build/index.js + index_bg.wasm, made by `npm run build`) in
// workerd via Miniflare. The script options and compatibility date are shared with
// the benchmark (bench/lib/workers.mjs), so both run the worker the same way.

import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';

export const ROOT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUILD_DIR = path.join(ROOT_DIR, 'build');

/** compatibility_date from wrangler.toml, so tests run under the deployed date. */
export function compatibilityDate() {
  const toml = fs.readFileSync(path.join(ROOT_DIR, 'wrangler.toml'), 'utf8');
  const match = toml.match(/^compatibility_date\s*=\s*"([^"]+)"/m);
  if (!match) throw new Error('compatibility_date not found in wrangler.toml');
  return match[1];
}

/** Miniflare options that load the built worker; callers add bindings and stdio. */
export function builtWorkerOptions() {
  return {
    modules: true,
    scriptPath: path.join(BUILD_DIR, 'index.js'),
    // workerd refuses modules outside the root; the wasm sits next to index.js.
    modulesRoot: BUILD_DIR,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: compatibilityDate(),
  };
}

/**
 * Loads the built worker into Miniflare with `bindings` as its vars and secrets, and
 * `miniflareOptions` merged into its Miniflare options.
 * Everything the worker logs is collected in `logs` (one entry per line) so suites
 * can assert on the request log and on what it must never contain.
 * @returns {Promise<{ mf: Miniflare, logs: string[], requestLog(): object[],
 *   fetch(pathAndQuery: string, init?: RequestInit): Promise<Response>, close(): Promise<void> }>}
 */
export async function startWorker(bindings = {}, miniflareOptions = {}) {
  const logs = [];
  const mf = new Miniflare({
    ...builtWorkerOptions(),
    // Other bindings (e.g. `ratelimits`) for the suites that test them.
    ...miniflareOptions,
    bindings,
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        readline.createInterface({ input: stream }).on('line', (line) => logs.push(line));
      }
    },
  });
  await mf.ready;
  return {
    mf,
    logs,
    /** Request log lines the worker wrote, parsed. */
    requestLog: () =>
      logs.flatMap((line) => {
        try {
          const entry = JSON.parse(line);
          return entry && typeof entry === 'object' && 'route' in entry ? [entry] : [];
        } catch {
          return [];
        }
      }),
    fetch: (pathAndQuery, init) => mf.dispatchFetch(new URL(pathAndQuery, 'http://worker.test').toString(), init),
    close: () => mf.dispose(),
  };
}

/** The worker's request log once it holds at least `count` lines (stdio is async). */
export async function waitForRequestLog(worker, count, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (worker.requestLog().length < count) {
    if (Date.now() > deadline) {
      throw new Error(`expected ${count} request log lines, got ${worker.requestLog().length}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return worker.requestLog();
}
