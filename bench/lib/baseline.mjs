// The previous release as a third worker ("base"): BENCH_BASELINE=<git rev> builds
// that commit's worker with its own scripts/build.sh, in a git worktree under
// bench/results/.baseline/<commit>/ (git-ignored, kept and reused by later runs),
// so the "cost against the previous release" budget (docs/benchmarks.md) is measured in the same run, on
// the same machine, in the same alternating rounds.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './workers.mjs';

export const BASELINE_DIR = path.join(ROOT, 'bench', 'results', '.baseline');
/** One cargo target directory for every baseline, so a second rev reuses the dependencies. */
const TARGET_DIR = path.join(BASELINE_DIR, 'target');
/** A cold wasm release build takes 3–4 min on 2 shared cores; this only stops a hung one. */
const BUILD_TIMEOUT_MS = 25 * 60_000;

function git(args) {
  const res = spawnSync('git', ['-C', ROOT, ...args], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${res.stderr.trim()}`);
  return res.stdout.trim();
}

/**
 * Checks out and builds `rev`, or reuses an earlier checkout of the same commit.
 * @param {string} rev  anything `git rev-parse` understands (a short hash, a tag, HEAD~1)
 * @param {(msg: string) => void} log
 * @returns {{ rev: string, commit: string, subject: string, dir: string, buildDir: string }}
 */
export function buildBaseline(rev, log) {
  // Keyed by the full commit, not by the name given: HEAD~1 or a branch moves.
  const commit = git(['rev-parse', '--verify', '--end-of-options', `${rev}^{commit}`]);
  const subject = git(['log', '-1', '--format=%s', commit]);
  const dir = path.join(BASELINE_DIR, commit);
  if (!fs.existsSync(path.join(dir, 'scripts', 'build.sh'))) {
    fs.mkdirSync(BASELINE_DIR, { recursive: true });
    fs.rmSync(dir, { recursive: true, force: true });
    // --force: a checkout deleted by hand is still registered with git, which would refuse the path.
    git(['worktree', 'add', '--force', '--detach', dir, commit]);
    log(`  baseline: checked out ${commit.slice(0, 12)} into ${path.relative(ROOT, dir)}`);
  }
  if (!fs.existsSync(path.join(dir, 'scripts', 'build.sh'))) {
    throw new Error(`BENCH_BASELINE=${rev}: commit ${commit.slice(0, 12)} has no scripts/build.sh`);
  }
  // That commit's scripts/env.sh takes wasm-opt and esbuild from ./node_modules: give it
  // this checkout's (the baseline's build must not install anything of its own).
  const modules = path.join(dir, 'node_modules');
  if (!fs.existsSync(modules)) fs.symlinkSync(path.join(ROOT, 'node_modules'), modules, 'dir');

  const buildDir = path.join(dir, 'build');
  log(`  baseline: building ${commit.slice(0, 12)} (${subject}) — a first build takes minutes; later runs reuse it`);
  const t0 = Date.now();
  const env = {
    ...process.env,
    CARGO_TARGET_DIR: TARGET_DIR,
    WASM_OPT_BIN: path.join(ROOT, 'node_modules', '.bin', 'wasm-opt'),
    ESBUILD_BIN: path.join(ROOT, 'node_modules', '.bin', 'esbuild'),
  };
  // build.sh skips the build when build/ is newer than its sources; that is the reuse.
  delete env.FORCE_BUILD;
  const res = spawnSync('bash', ['scripts/build.sh'], {
    cwd: dir,
    env,
    // Build output goes to stderr: stdout is the bench's table.
    stdio: ['ignore', 2, 2],
    timeout: BUILD_TIMEOUT_MS,
  });
  if (res.status !== 0) {
    throw new Error(`BENCH_BASELINE=${rev}: scripts/build.sh of ${commit.slice(0, 12)} failed (${res.error?.message ?? `exit ${res.status}`})`);
  }
  for (const file of ['index.js', 'index_bg.wasm']) {
    if (!fs.existsSync(path.join(buildDir, file))) throw new Error(`BENCH_BASELINE=${rev}: the build made no build/${file}`);
  }
  log(`  baseline: ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return { rev, commit, subject, dir, buildDir };
}

/** compatibility_date of the baseline's own wrangler.toml (it ran under that date). */
export function baselineCompatibilityDate(dir) {
  const toml = fs.readFileSync(path.join(dir, 'wrangler.toml'), 'utf8');
  const match = toml.match(/^compatibility_date\s*=\s*"([^"]+)"/m);
  if (!match) throw new Error('compatibility_date not found in the baseline wrangler.toml');
  return match[1];
}
