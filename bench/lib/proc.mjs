// Process bookkeeping from /proc (Linux): which workerd a Miniflare instance spawned,
// and how much CPU time it has used.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** Clock ticks per second of utime/stime in /proc/<pid>/stat (`getconf CLK_TCK`). */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** The fields of /proc/<pid>/stat after the `(comm)` field: [state, ppid, …]. */
function statFields(pid) {
  const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const close = text.lastIndexOf(')');
  return { comm: text.slice(text.indexOf('(') + 1, close), rest: text.slice(close + 2).split(' ') };
}

/** PIDs of the direct children of `parent` named `comm` (all children without one). */
export function childPids(parent = process.pid, comm) {
  const pids = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = statFields(entry);
      if (Number(fields.rest[1]) === parent && (!comm || fields.comm === comm)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** CPU time (user + system, all threads) the process has used so far, in µs. */
export function cpuOf(pid) {
  const { rest } = statFields(pid);
  // Fields 14 and 15 of stat(5), i.e. indexes 11 and 12 after the comm field.
  const ticks = Number(rest[11]) + Number(rest[12]);
  return (ticks * 1e6) / CLK_TCK;
}

/**
 * CPU time (user + system, in µs) of each thread of the process so far, summed per
 * thread name (workerd's isolate runs on its main thread, named "workerd").
 * @returns {Map<string, number>}
 */
export function threadCpuOf(pid) {
  const byName = new Map();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const { comm, rest } = statFields(`${pid}/task/${tid}`);
      byName.set(comm, (byName.get(comm) ?? 0) + ((Number(rest[11]) + Number(rest[12])) * 1e6) / CLK_TCK);
    } catch {
      // The thread ended while we looked.
    }
  }
  return byName;
}

/** CPU model and core count of this machine, for the report. */
export function machine() {
  let cpuModel = 'unknown';
  try {
    const line = fs
      .readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpuModel = line.split(':')[1].trim();
  } catch {
    // not Linux
  }
  let nproc;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    nproc = undefined;
  }
  return { nproc, cpuModel, node: process.version, kernel: fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(), clkTck: CLK_TCK };
}
