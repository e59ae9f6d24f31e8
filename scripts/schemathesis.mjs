// Schema-driven testing of the built worker against its own /openapi.json
// (docs/resilience.md, "Schemathesis"). Started by scripts/schemathesis.sh, which
// installs schemathesis into .venv-schemathesis/ first.
//
// Per backend: the local stack (TEST_BACKEND: pglite, or postgres with
// TEST_DATABASE_URL), a user signed up on its Better Auth and that user's JWT, the
// built worker in workerd on a direct socket, and a few tasks; then `schemathesis run`
// with every built-in check plus schemathesis/hooks.py (errors are problem+json,
// API headers), the token in Authorization and the user's own id for {user_id}.
//
//   node scripts/schemathesis.mjs [--backend pglite|postgres|both] [--examples N] [--seed N]
//   SCHEMATHESIS_EXAMPLES, SCHEMATHESIS_BACKEND, SCHEMATHESIS_SEED likewise.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Miniflare } from 'miniflare';
import { stackBindings } from '../tests/support/bindings.mjs';
import { signUpAndGetToken, startLocalStack } from '../tests/support/stack.mjs';
import { builtWorkerOptions, ROOT_DIR } from '../tests/support/worker.mjs';

const args = process.argv.slice(2);
const arg = (name, env, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : (process.env[env] ?? fallback);
};
const backendArg = arg('backend', 'SCHEMATHESIS_BACKEND', 'both');
const examples = Number(arg('examples', 'SCHEMATHESIS_EXAMPLES', 100));
const seed = arg('seed', 'SCHEMATHESIS_SEED', String(Math.floor(Math.random() * 1e9)));
const VENV = path.join(ROOT_DIR, '.venv-schemathesis');

async function once(backend) {
  process.env.TEST_BACKEND = backend;
  if (backend === 'postgres') process.env.TEST_DATABASE_URL ||= 'postgresql://postgres@127.0.0.1:5432/test';
  const stack = await startLocalStack({ log: () => {}, warn: () => {} });
  const logs = [];
  const mf = new Miniflare({
    ...builtWorkerOptions(),
    bindings: stackBindings(stack),
    unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
    handleRuntimeStdio(stdout, stderr) {
      for (const s of [stdout, stderr]) s.on('data', (c) => logs.push(String(c)));
    },
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'schemathesis-'));
  try {
    const base = (await mf.unsafeGetDirectURL()).toString().replace(/\/$/, '');
    const user = await signUpAndGetToken(stack);
    for (const title of ['first', 'second', 'third']) {
      const res = await fetch(`${base}/api/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ title }),
      });
      if (res.status !== 201) throw new Error(`seeding a task: HTTP ${res.status}`);
    }
    // Only the {user_id} of the caller is a real path (any other is a 403 by design).
    fs.writeFileSync(
      path.join(dir, 'schemathesis.toml'),
      [
        '[parameters]',
        `"path.user_id" = ${JSON.stringify(user.userId)}`,
        '',
        // A task id drawn from the schema rarely exists: 404 is the right answer then.
        // The rest are documented answers to valid requests that depend on state, not
        // on the request's shape: 304 (If-None-Match names the current version), 409
        // (the quota), 412 (If-Match names another version) and 422 (an
        // Idempotency-Key reused with another body — schemathesis draws few keys).
        // hooks.py checks each of them for its headers. And 400: schemathesis' coverage
        // phase sends header values outside the documented pattern (`If-Match: 0`) as
        // if they were valid; the worker must call those malformed (400). Generated
        // bodies are always valid JSON, so no other 400 can hide here.
        '[checks.positive_data_acceptance]',
        'expected-statuses = [200, 201, 204, 304, 400, 404, 409, 412, 422]',
        '',
      ].join('\n'),
    );
    const report = path.join(dir, 'report');
    const cli = [
      '--config-file', path.join(dir, 'schemathesis.toml'), '--no-color',
      // SCHEMATHESIS_SCHEMA: a document file instead of the worker's own (to try a
      // change to scripts/openapi.source.mjs before rebuilding the wasm).
      'run', process.env.SCHEMATHESIS_SCHEMA || `${base}/openapi.json`, '--url', base,
      '-H', `Authorization: Bearer ${user.token}`,
      '--checks', 'all',
      '--max-examples', String(examples), '--seed', seed,
      // One worker: hypothesis' lambda introspection is not thread-safe on Python 3.11
      // ("AST constructor recursion depth mismatch" with two).
      '--workers', '1', '--request-timeout', '10',
      '--generation-database', 'none',
      '--report', 'junit,ndjson', '--report-dir', report,
      '--output-sanitize', 'true',
      // Failures judged to be schemathesis' own (docs/resilience.md, "Schemathesis").
      '--baseline', path.join(ROOT_DIR, 'schemathesis', 'baseline.json'),
      ...(process.env.SCHEMATHESIS_BASELINE_UPDATE ? ['--baseline-update'] : []),
    ];
    console.error(`schemathesis[${backend}]: ${examples} examples per operation, seed ${seed}`);
    let out = '';
    const code = await new Promise((resolve) => {
      const child = spawn(path.join(VENV, 'bin', 'schemathesis'), cli, {
        stdio: ['ignore', 'pipe', 'inherit'],
        // Its run cache (.schemathesis/) goes to the scratch folder, not the repository.
        cwd: dir,
        env: { ...process.env, SCHEMATHESIS_HOOKS: path.join(ROOT_DIR, 'schemathesis', 'hooks.py') },
      });
      child.stdout.on('data', (c) => {
        out += c;
        process.stdout.write(c);
      });
      child.on('exit', (c) => resolve(c ?? 1));
    });
    const num = (re) => Number(re.exec(out)?.[1] ?? 0);
    const summary = {
      backend,
      exitCode: code,
      operations: num(/Tested: (\d+)/),
      cases: num(/(\d+) generated/),
      failures: num(/found (\d+) unique failures/),
      known: num(/Known failures: (\d+)/),
    };
    if (process.env.SCHEMATHESIS_KEEP) {
      const keep = path.join(ROOT_DIR, '.scratch', `schemathesis-${backend}`);
      fs.rmSync(keep, { recursive: true, force: true });
      fs.cpSync(report, keep, { recursive: true });
      summary.report = keep;
    }
    if (logs.join('').includes(user.token)) throw new Error('the worker logged a token');
    return summary;
  } finally {
    await mf.dispose().catch(() => {});
    await stack.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const results = [];
for (const backend of backendArg === 'both' ? ['pglite', 'postgres'] : [backendArg]) results.push(await once(backend));
for (const r of results) {
  console.log(`schemathesis on ${r.backend}: ${r.operations} operations, ${r.cases} cases, ${r.failures} new failures, ${r.known} known (baseline) (exit ${r.exitCode})${r.report ? `; report in ${r.report}` : ''}`);
}
const passed = results.filter((r) => r.exitCode === 0).length;
console.log(`schemathesis: ${passed} passed, ${results.length - passed} failed`);
process.exit(passed === results.length ? 0 : 1);
