// Formatting of the results: one table (terminal and Markdown), the budget verdicts,
// and the files in bench/results/.

import fs from 'node:fs';
import path from 'node:path';

export const COLUMNS = [
  'figure',
  'ours c=1 p50/p99 ms · req/s',
  'ours c=32 p50/p99 ms · req/s',
  'ours CPU µs/req c=1 / c=32',
  'peer c=1 p50/p99 ms · req/s',
  'peer c=32 p50/p99 ms · req/s',
  'peer CPU µs/req c=1 / c=32',
  'ours/peer',
];
/** Extra columns when the previous release ran too (BENCH_BASELINE). */
export const BASE_COLUMNS = ['base c=1 p50/p99 ms · req/s', 'base CPU µs/req c=1 / c=32', 'ours/base'];

/** The columns of a run's table. */
export const columnsFor = (results) => (results.baseline ? [...COLUMNS, ...BASE_COLUMNS] : COLUMNS);

const ms = (v) => (Number.isFinite(v) ? (v < 10 ? v.toFixed(3) : v.toFixed(1)) : '—');
const signedMs = (v) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${ms(v)}` : '—');
const int = (v) => (Number.isFinite(v) ? String(Math.round(v)) : '—');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? (a / b).toFixed(2) : '—');

/** "p50/p99 · rps" of one cell, with the error count when there were errors. */
function cell(s) {
  if (!s) return '—';
  const errors = s.errors ? ` (${s.errors} errors)` : '';
  return `${ms(s.p50)}/${ms(s.p99)} · ${int(s.rps)}${errors}`;
}

function cpuCell(r) {
  if (!r) return '—';
  return `${int(r[1]?.cpuUsPerReq)} / ${int(r[32]?.cpuUsPerReq)}`;
}

/** The table rows (arrays of strings, one per column) for the results of bench/run.mjs. */
export function tableRows(results) {
  const rows = [];
  for (const fig of results.figures) {
    const { ours, peer } = fig.cells;
    const parts = peer
      ? [
          `p50 ${ratio(ours[1].summary.p50, peer[1].summary.p50)}`,
          `p99 ${ratio(ours[1].summary.p99, peer[1].summary.p99)}`,
          `rps(c=32) ${ratio(ours[32].summary.rps, peer[32].summary.rps)}`,
          `CPU ${ratio(ours.cpuUsPerReq, peer.cpuUsPerReq)}`,
        ].join(' · ')
      : 'no peer';
    const row = [
      fig.label,
      cell(ours[1].summary),
      cell(ours[32].summary),
      cpuCell(ours),
      cell(peer?.[1].summary),
      cell(peer?.[32].summary),
      cpuCell(peer),
      parts,
    ];
    if (results.baseline) {
      const { base } = fig.cells;
      row.push(
        cell(base?.[1].summary),
        cpuCell(base),
        base ? `CPU ${ratio(ours.cpuUsPerReq, base.cpuUsPerReq)} · p50 ${ratio(ours[1].summary.p50, base[1].summary.p50)}` : 'not measured',
      );
    }
    rows.push(row);
  }

  for (const o of results.overhead) {
    const c = (x, conc) => (x ? `${signedMs(x[conc].p50)}/${signedMs(x[conc].p99)}` : '—');
    const cpu = (x) => (x ? `${int(x.cpuUsPerReq)} (pooled)` : '—');
    rows.push([
      `verify overhead ${o.alg} (me − health)`,
      c(o.ours, 1),
      c(o.ours, 32),
      cpu(o.ours),
      c(o.peer, 1),
      c(o.peer, 32),
      cpu(o.peer),
      // Overheads can be near zero or negative (noise), so a ratio would mislead: a difference.
      `c=1 ours − peer: p50 ${signedMs(o.ours[1].p50 - o.peer[1].p50)} · p99 ${signedMs(o.ours[1].p99 - o.peer[1].p99)} ms`,
    ]);
  }

  for (const c of results.coldStart ?? []) {
    const median = (k) => (c[k] ? `${ms(c[k].medianMs)} ms first response (n=${c[k].samples.length})` : '—');
    const startup = (k) => (c[k] ? `${int(c[k].medianStartupMs)} ms to ready` : '—');
    rows.push([`cold start ${c.label}`, median('ours'), startup('ours'), '', median('peer'), startup('peer'), '', ratio(c.ours?.medianMs, c.peer?.medianMs)]);
  }

  const j = results.jwks;
  if (j) {
    const f = (k) => `${j[k].per1000.toFixed(2)} per 1000 req (${j[k].measuredHits} in ${j[k].measuredRequests} req)`;
    const life = (k) => `${j[k].totalHits} fetch(es) in ${int(j[k].lifetimeS)} s of isolate life`;
    rows.push(['JWKS fetches (measured runs)', f('ours'), life('ours'), '', f('peer'), life('peer'), '', '']);
  }

  for (const n of results.neon ?? []) {
    const f = (x) => (x ? `${x.perRequest.toFixed(3)} per req (${x.sql}/${x.requests})` : '—');
    rows.push([`Neon round trips ${n.label}`, f(n.ours), `expected ${n.expected}`, '', f(n.peer), '', '', '']);
  }

  const u = results.upload;
  if (u) {
    const size = (x) => (x ? `${x.rawKiB.toFixed(1)} KiB / gzip ${x.gzipKiB.toFixed(1)} KiB` : '—');
    rows.push([
      'upload (wrangler deploy --dry-run)',
      size(u.ours),
      '',
      '',
      size(u.peerWrangler),
      `esbuild bundle: ${size(u.peerBundle)}`,
      '',
      `gzip ${ratio(u.ours?.gzipKiB, u.peerWrangler?.gzipKiB)}`,
    ]);
  }

  const s = results.scale;
  if (s?.skipped) {
    rows.push(['list p99, 10k vs 10 users × 100 tasks', `skipped: ${s.skipped}`, '', '', '', '', '', '']);
  } else if (s) {
    rows.push([
      `list, ${s.smallUsers} users × 100 tasks (c=1)`,
      cell(s.small),
      '',
      '',
      '',
      '',
      '',
      '',
    ]);
    rows.push([
      `list, ${s.largeUsers} users × 100 tasks (c=1)`,
      cell(s.large),
      '',
      '',
      '',
      '',
      '',
      `p99 large/small ${s.p99Ratio.toFixed(2)} · p50 ${s.p50Ratio.toFixed(2)}`,
    ]);
  }
  return rows;
}

/** A plain-text table with padded columns, for the terminal. */
export function textTable(rows, columns = COLUMNS) {
  rows = padded(rows, columns);
  const all = [columns, ...rows];
  const widths = columns.map((_, i) => Math.max(...all.map((r) => [...(r[i] ?? '')].length)));
  const line = (r) => r.map((c, i) => (c ?? '').padEnd(widths[i] + (c ?? '').length - [...(c ?? '')].length)).join(' | ');
  return [line(columns), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map(line)].join('\n');
}

/** Rows filled up with empty cells to the width of the table. */
const padded = (rows, columns) => rows.map((r) => [...r, ...Array(Math.max(0, columns.length - r.length)).fill('')]);

export function markdownTable(rows, columns = COLUMNS) {
  rows = padded(rows, columns);
  const esc = (c) => (c ?? '').replaceAll('|', '\\|');
  return [
    `| ${columns.map(esc).join(' | ')} |`,
    `|${columns.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

export const VERDICT_COLUMNS = ['holds', 'figure', 'value', 'budget', 'note'];

/** The verdicts as table rows. */
export function verdictRows(verdicts) {
  return verdicts.map((v) => [v.holds === null ? 'n/a' : v.holds ? 'yes' : 'NO', v.figure, v.value, v.budget, v.note ?? '']);
}

/** Writes latest.json and latest.md into `dir`. */
export function writeResults(dir, results, rows, verdicts) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  const m = results.machine;
  const md = [
    `# Benchmark results — ${results.date}`,
    '',
    `Machine: ${m.nproc} cores, ${m.cpuModel}, Linux ${m.kernel}, Node ${m.node}. ` +
      `Database: ${results.database}. Plan: ${results.plan.name} (${results.plan.rounds} alternating rounds per cell). ` +
      `Total time ${(results.durationMs / 1000).toFixed(0)} s.`,
    ...(results.baseline
      ? ['', `Baseline ("base"): commit ${results.baseline.commit.slice(0, 12)} (${results.baseline.subject}), BENCH_BASELINE=${results.baseline.rev}, built from that commit and measured in the same rounds.`]
      : []),
    '',
    'Latencies in ms (p50/p99) and requests per second, measured by a keep-alive client on each worker’s ' +
      'direct socket; CPU is the workerd process’s user+system time per request. See bench/README.md.',
    '',
    markdownTable(rows, columnsFor(results)),
    '',
    '## Budgets (docs/benchmarks.md)',
    '',
    markdownTable(verdictRows(verdicts), VERDICT_COLUMNS),
    '',
    ...(results.notes.length ? ['## Notes', '', ...results.notes.map((n) => `- ${n}`), ''] : []),
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'latest.md'), md);
}
