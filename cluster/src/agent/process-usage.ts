/**
 * Resource use of a task run as a local process group, from /proc: CPU seconds and resident
 * memory summed over the group's live processes (what Mesos's posix isolators report). No limit
 * is enforced on such tasks, so there are no limits and no OOM count to read.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { TaskUsage } from './monitor.js';

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every Linux architecture Node runs on). */
const USER_HZ = 100;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // the process ended while being read
  }
}

/** undefined when the group has no live process. */
export function processGroupUsage(pgid: number, proc = '/proc'): TaskUsage | undefined {
  if (!(pgid > 0)) return undefined;
  let user = 0;
  let system = 0;
  let rss = 0;
  let found = false;
  for (const name of readdirSync(proc)) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readText(`${proc}/${name}/stat`);
    if (!stat) continue;
    // the command name (field 2) may hold spaces and parentheses: fields start after its last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) !== pgid || fields[0] === 'Z') continue;
    found = true;
    user += Number(fields[11]) / USER_HZ;
    system += Number(fields[12]) / USER_HZ;
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readText(`${proc}/${name}/status`) ?? '');
    if (kb) rss += Number(kb[1]) * 1024;
  }
  if (!found) return undefined;
  return {
    timestamp: Date.now() / 1000,
    cpuUserSeconds: user,
    cpuSystemSeconds: system,
    cpusLimit: null,
    memRssBytes: rss,
    memLimitBytes: null,
  };
}
