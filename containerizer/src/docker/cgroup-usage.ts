/**
 * CPU and memory counters of a running container, read from its cgroup (the files the Engine's
 * own stats read). The Engine's stats endpoint answers only with its collector's next sample,
 * about a second away on Engine 20.10, too slow for a call made every second per container.
 * Returns undefined when the cgroup is not visible from here (then the caller asks the Engine).
 */
import { readFileSync } from 'node:fs';

export interface CgroupUsage {
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
  memRssBytes: number;
  /** All memory charged to the cgroup (page cache included); absent when not readable. */
  memTotalBytes?: number;
  /** Processes the kernel's OOM killer ended in the cgroup; absent when the kernel does not count them. */
  oomKills?: number;
}

/** USER_HZ: the unit of cpuacct.stat (100 on every Linux architecture Docker runs on). */
const USER_HZ = 100;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function field(text: string, name: string): number | undefined {
  const match = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

/** Cgroup paths of a process: controller → path, from /proc/<pid>/cgroup ("" is the v2 unified hierarchy). */
function cgroupsOf(pid: number): Map<string, string> | undefined {
  const text = read(`/proc/${pid}/cgroup`);
  if (!text) return undefined;
  const paths = new Map<string, string>();
  for (const line of text.trim().split('\n')) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!match) continue;
    const [, controllers = '', path = ''] = match;
    for (const c of controllers.split(',')) paths.set(c, path);
  }
  return paths;
}

/**
 * Counters of the cgroup of `pid`, which must be the container's (its cgroup path names the full
 * container id; in another pid namespace the same number may be an unrelated process).
 */
export function readCgroupUsage(pid: number, containerId: string, root = '/sys/fs/cgroup'): CgroupUsage | undefined {
  if (!(pid > 0) || containerId.length < 12) return undefined;
  const paths = cgroupsOf(pid);
  if (!paths) return undefined;
  const cpuacct = paths.get('cpuacct');
  const memory = paths.get('memory');
  if (cpuacct !== undefined && memory !== undefined) {
    if (!cpuacct.includes(containerId) || !memory.includes(containerId)) return undefined;
    const cpu = read(`${root}/cpuacct${cpuacct}/cpuacct.stat`) ?? read(`${root}/cpu,cpuacct${cpuacct}/cpuacct.stat`);
    const mem = read(`${root}/memory${memory}/memory.stat`);
    if (!cpu || !mem) return undefined;
    return withOptional(
      {
        cpuUserSeconds: (field(cpu, 'user') ?? 0) / USER_HZ,
        cpuSystemSeconds: (field(cpu, 'system') ?? 0) / USER_HZ,
        memRssBytes: field(mem, 'total_rss') ?? field(mem, 'rss') ?? 0,
      },
      Number.parseInt(read(`${root}/memory${memory}/memory.usage_in_bytes`) ?? '', 10),
      field(read(`${root}/memory${memory}/memory.oom_control`) ?? '', 'oom_kill'),
    );
  }
  const unified = paths.get('');
  if (unified === undefined || !unified.includes(containerId)) return undefined;
  const cpu = read(`${root}${unified}/cpu.stat`);
  const mem = read(`${root}${unified}/memory.stat`);
  if (!cpu || !mem) return undefined;
  return withOptional(
    {
      cpuUserSeconds: (field(cpu, 'user_usec') ?? 0) / 1e6,
      cpuSystemSeconds: (field(cpu, 'system_usec') ?? 0) / 1e6,
      memRssBytes: field(mem, 'anon') ?? 0,
    },
    Number.parseInt(read(`${root}${unified}/memory.current`) ?? '', 10),
    field(read(`${root}${unified}/memory.events`) ?? '', 'oom_kill'),
  );
}

function withOptional(usage: CgroupUsage, memTotalBytes: number, oomKills: number | undefined): CgroupUsage {
  if (Number.isFinite(memTotalBytes)) usage.memTotalBytes = memTotalBytes;
  if (oomKills !== undefined) usage.oomKills = oomKills;
  return usage;
}
