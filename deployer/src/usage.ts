/**
 * What the tasks of each service really use, read from the agents' `GET /monitor/statistics` (a
 * Mesos agent's, or the engine's): CPU seconds, resident memory against the limit, OOM kills. The
 * agents come from a Mesos master's `/master/slaves` (each agent's `pid` names its address), or
 * without one from the task hosts Marathon reports, at the agents' port. Marathon tasks run under
 * the command executor, so a statistics entry's `executor_id` is the task id.
 */
import { serviceRefOfApp, type Logger, type MarathonAppInfo, type MarathonEvent } from '@theseus/services';
import type { MesosAgent } from './dashboard/cluster-view.js';

/** `mesos.ResourceStatistics` as an agent's JSON carries it (the fields read here). */
export interface ResourceStatistics {
  timestamp: number;
  cpus_user_time_secs?: number;
  cpus_system_time_secs?: number;
  cpus_limit?: number;
  mem_rss_bytes?: number;
  mem_total_bytes?: number;
  mem_limit_bytes?: number;
  /** The engine's own field; Mesos reports OOM kills only on terminal task statuses. */
  mem_oom_kills?: number;
}

export interface StatisticsEntry {
  executor_id: string;
  framework_id?: string;
  statistics: ResourceStatistics;
}

/** One instance's use as the dashboard shows it. */
export interface InstanceUsage {
  /** CPUs in use since the previous sample; null after the first one. */
  cpus: number | null;
  cpusAllocated: number;
  cpuSeconds: number;
  memBytes: number;
  /** The enforced limit, or the allocation when the agent reports none. */
  memLimitBytes: number;
  /** Used memory / limit. */
  memRatio: number;
  nearLimit: boolean;
  oomKills: number | null;
  sampledAt: number;
}

export interface ServiceUsageTotals {
  appId: string;
  namespace: string;
  service: string;
  cpuSeconds: number;
  cpusAllocated: number;
  memBytes: number;
  memLimitBytes: number;
  nearLimit: number;
}

export interface UsageSample {
  /** By task id. */
  instances: Map<string, InstanceUsage>;
  services: ServiceUsageTotals[];
  /** New OOM kills since the previous sample, by app id. */
  newOomKills: Map<string, number>;
  /** Agents that did not answer, with why. */
  errors: string[];
}

export interface UsageReaderOptions {
  logger: Logger;
  /** Port of the agents' HTTP API when no master names them. */
  agentPort: number;
  memoryWarnRatio: number;
  timeoutMs: number;
  /** Called with every sample (the metrics take theirs from here). */
  onSample?: (sample: UsageSample) => void;
}

/** `slave(1)@10.0.0.5:5051` -> `http://10.0.0.5:5051`. */
export function agentUrlOf(pid: string | undefined): string | undefined {
  const m = /@(.+):(\d+)$/.exec(pid ?? '');
  if (!m) return undefined;
  const host = m[1]!.includes(':') && !m[1]!.startsWith('[') ? `[${m[1]}]` : m[1]!;
  return `http://${host}:${m[2]}`;
}

export async function fetchStatistics(agentUrl: string, timeoutMs: number): Promise<StatisticsEntry[]> {
  const url = `${agentUrl}/monitor/statistics`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { Accept: 'application/json' } });
  } catch (err) {
    throw new Error(`cannot read ${url}: ${(err as Error).message}`);
  }
  if (!res.ok) throw new Error(`cannot read ${url}: it answered ${res.status}`);
  let body: unknown;
  try {
    body = await res.json();
  } catch (err) {
    throw new Error(`cannot read ${url}: the answer is not JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(body)) throw new Error(`cannot read ${url}: the answer is not a list`);
  return body.filter(
    (e): e is StatisticsEntry =>
      !!e &&
      typeof e === 'object' &&
      typeof (e as StatisticsEntry).executor_id === 'string' &&
      typeof (e as StatisticsEntry).statistics?.timestamp === 'number',
  );
}

/** A terminal task status that says the kernel ended the task for exceeding its memory. */
export function isOomTermination(event: MarathonEvent): string | undefined {
  if (event.eventType !== 'status_update_event') return undefined;
  const e = event as MarathonEvent & { taskStatus?: unknown; message?: unknown; appId?: unknown };
  if (e.taskStatus !== 'TASK_FAILED' || typeof e.appId !== 'string' || typeof e.message !== 'string') return undefined;
  return /out of memory|memory limit|\bOOM\b/i.test(e.message) ? e.appId : undefined;
}

/** Samples the agents; keeps the previous sample of each task for CPU rates and OOM deltas. */
export class UsageReader {
  private previous = new Map<string, { cpuSeconds: number; at: number; oomKills: number }>();

  constructor(private readonly options: UsageReaderOptions) {}

  /** `agents`: from a Mesos master; undefined or an Error: the task hosts at the agent port. */
  async sample(
    apps: readonly MarathonAppInfo[],
    agents: readonly MesosAgent[] | Error | undefined,
  ): Promise<UsageSample> {
    const { agentPort, memoryWarnRatio, timeoutMs } = this.options;
    const urls = new Set<string>();
    const agentUrls = new Map<string, string>();
    if (Array.isArray(agents))
      for (const a of agents) {
        const url = agentUrlOf(a.pid);
        if (url) agentUrls.set(a.id, url);
      }
    for (const app of apps)
      for (const t of app.tasks ?? []) {
        const url = (t.slaveId && agentUrls.get(t.slaveId)) || agentUrlOf(`@${t.host}:${agentPort}`);
        if (url) urls.add(url);
      }
    const errors: string[] = [];
    const entries = new Map<string, ResourceStatistics>();
    await Promise.all(
      [...urls].map(async (url) => {
        try {
          for (const e of await fetchStatistics(url, timeoutMs)) entries.set(e.executor_id, e.statistics);
        } catch (err) {
          errors.push((err as Error).message);
        }
      }),
    );
    if (errors.length) this.options.logger.debug('some agents gave no statistics', { errors });

    const instances = new Map<string, InstanceUsage>();
    const services: ServiceUsageTotals[] = [];
    const newOomKills = new Map<string, number>();
    const next = new Map<string, { cpuSeconds: number; at: number; oomKills: number }>();
    for (const app of apps) {
      const ref = serviceRefOfApp(app);
      if (!ref) continue;
      const totals: ServiceUsageTotals = {
        appId: app.id,
        namespace: ref.namespace,
        service: ref.service,
        cpuSeconds: 0,
        cpusAllocated: 0,
        memBytes: 0,
        memLimitBytes: 0,
        nearLimit: 0,
      };
      for (const task of app.tasks ?? []) {
        const s = entries.get(task.id);
        if (!s) continue;
        const cpuSeconds = (s.cpus_user_time_secs ?? 0) + (s.cpus_system_time_secs ?? 0);
        const memBytes = s.mem_rss_bytes ?? 0;
        const memLimitBytes = s.mem_limit_bytes ?? Math.round((app.mem ?? 0) * 1024 * 1024);
        const memRatio = memLimitBytes > 0 ? memBytes / memLimitBytes : 0;
        const before = this.previous.get(task.id);
        const oomKills = s.mem_oom_kills ?? 0;
        if (oomKills > (before?.oomKills ?? 0))
          newOomKills.set(app.id, (newOomKills.get(app.id) ?? 0) + oomKills - (before?.oomKills ?? 0));
        next.set(task.id, { cpuSeconds, at: s.timestamp, oomKills });
        const usage: InstanceUsage = {
          cpus:
            before && s.timestamp > before.at
              ? Math.max(0, Math.round(((cpuSeconds - before.cpuSeconds) / (s.timestamp - before.at)) * 1000) / 1000)
              : null,
          cpusAllocated: app.cpus ?? 0,
          cpuSeconds,
          memBytes,
          memLimitBytes,
          memRatio: Math.round(memRatio * 1000) / 1000,
          nearLimit: memRatio > memoryWarnRatio,
          oomKills: s.mem_oom_kills ?? null,
          sampledAt: s.timestamp,
        };
        instances.set(task.id, usage);
        totals.cpuSeconds += cpuSeconds;
        totals.cpusAllocated += usage.cpusAllocated;
        totals.memBytes += memBytes;
        totals.memLimitBytes += memLimitBytes;
        if (usage.nearLimit) totals.nearLimit++;
      }
      services.push(totals);
    }
    this.previous = next;
    const sample = { instances, services, newOomKills, errors };
    this.options.onSample?.(sample);
    return sample;
  }
}
