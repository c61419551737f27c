/**
 * The cluster as the dashboard shows it: Marathon's (or the engine's) info, and each host with its
 * tasks and resource use. Marathon has no capacity API; a Mesos master's `GET /master/slaves`
 * does, so capacity comes from there when a master URL is set (the engine answers the same path
 * for its single agent). Without it, used resources are the sum of each task's app resources and
 * what is available is unknown.
 */
import { TheseusError, describeError, type MarathonAppInfo, type MarathonInfo } from '@theseus/services';
import type { InstanceUsage } from '../usage.js';

/** An agent as a Mesos master's `GET /master/slaves` describes it (the fields the dashboard reads). */
export interface MesosAgent {
  id: string;
  hostname: string;
  /** `slave(1)@<ip>:<port>`: where the agent's HTTP API answers. */
  pid?: string;
  resources: { cpus?: number; mem?: number; disk?: number };
  used_resources?: { cpus?: number; mem?: number; disk?: number };
  active?: boolean;
}

export interface Resources {
  cpus: number;
  mem: number;
}

export interface HostRow {
  host: string;
  agentId: string | undefined;
  /** Sum of the app resources of the tasks Marathon has on this host. */
  used: Resources;
  /** What the agent offers in all; null when unknown (no Mesos master to ask). */
  total: Resources | null;
  /** What the agent reports in use (Mesos `used_resources`); null when unknown. */
  agentUsed: Resources | null;
  /**
   * What the tasks really use by the agent's statistics (CPUs since the previous sample, resident
   * MiB), and how many of them did report; null when no task's statistics were read.
   */
  actual: { cpus: number; mem: number; tasks: number } | null;
  /** Tasks Marathon has on this host, in every state. */
  taskCount: number;
  /** Tasks per app on this host (the page lists the tasks themselves from its services). */
  apps: Record<string, number>;
}

export interface ClusterView {
  info: {
    name: string;
    version: string;
    leader: string | null;
    frameworkId: string | null;
    buildref: string | null;
  } | null;
  infoError: string | null;
  hosts: HostRow[];
  /** Where capacity came from: a Mesos master (or the engine's equivalent), or nowhere. */
  capacity: 'mesos' | 'unknown';
  capacityError: string | null;
}

/** Tasks that hold resources on their agent. */
const HOLDING = new Set(['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', undefined]);

export function clusterView(
  apps: readonly MarathonAppInfo[],
  info: MarathonInfo | Error,
  agents: readonly MesosAgent[] | Error | undefined,
  usage?: ReadonlyMap<string, InstanceUsage>,
): ClusterView {
  const hosts = new Map<string, HostRow>();
  const row = (host: string, agentId: string | undefined): HostRow => {
    let r = hosts.get(host);
    if (!r)
      hosts.set(
        host,
        (r = {
          host,
          agentId,
          used: { cpus: 0, mem: 0 },
          total: null,
          agentUsed: null,
          actual: null,
          taskCount: 0,
          apps: {},
        }),
      );
    r.agentId ??= agentId;
    return r;
  };
  const agentList = Array.isArray(agents) ? agents : [];
  const hostOfAgent = new Map(agentList.map((a) => [a.id, a.hostname]));
  for (const agent of agentList) {
    const r = row(agent.hostname, agent.id);
    r.total = { cpus: agent.resources.cpus ?? 0, mem: agent.resources.mem ?? 0 };
    if (agent.used_resources)
      r.agentUsed = { cpus: agent.used_resources.cpus ?? 0, mem: agent.used_resources.mem ?? 0 };
  }
  for (const app of apps) {
    for (const task of app.tasks ?? []) {
      const host = (task.slaveId && hostOfAgent.get(task.slaveId)) || task.host;
      const r = row(host, task.slaveId);
      const cpus = app.cpus ?? 0;
      const mem = app.mem ?? 0;
      r.taskCount++;
      r.apps[app.id] = (r.apps[app.id] ?? 0) + 1;
      if (HOLDING.has(task.state)) {
        r.used.cpus += cpus;
        r.used.mem += mem;
      }
      const u = usage?.get(task.id);
      if (u) {
        r.actual ??= { cpus: 0, mem: 0, tasks: 0 };
        r.actual.cpus += u.cpus ?? 0;
        r.actual.mem += u.memBytes / 1024 / 1024;
        r.actual.tasks++;
      }
    }
  }
  for (const r of hosts.values()) {
    r.used.cpus = Math.round(r.used.cpus * 1000) / 1000;
    if (r.actual) {
      r.actual.cpus = Math.round(r.actual.cpus * 1000) / 1000;
      r.actual.mem = Math.round(r.actual.mem * 10) / 10;
    }
  }
  return {
    info:
      info instanceof Error
        ? null
        : {
            name: info.name,
            version: info.version,
            leader: info.leader ?? null,
            frameworkId: info.frameworkId ?? null,
            buildref: buildrefOf(info),
          },
    infoError: info instanceof Error ? info.message : null,
    hosts: [...hosts.values()].sort((a, b) => a.host.localeCompare(b.host)),
    capacity: Array.isArray(agents) ? 'mesos' : 'unknown',
    capacityError: agents instanceof Error ? agents.message : null,
  };
}

function buildrefOf(info: MarathonInfo): string | null {
  const value = (info as unknown as { buildref?: unknown }).buildref;
  return typeof value === 'string' ? value : null;
}

export class MesosMasterError extends TheseusError {
  constructor(url: string, reason: string) {
    super('MESOS_MASTER_UNAVAILABLE', `cannot read agents from ${url}: ${reason}`, {
      hint: 'check MESOS_MASTER_URL',
      recoverable: true,
    });
  }
}

/** `GET <master>/master/slaves`: the agents and their resources. */
export async function fetchMesosAgents(masterUrl: string, timeoutMs = 3000): Promise<MesosAgent[]> {
  const url = `${masterUrl.replace(/\/+$/, '')}/master/slaves`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { Accept: 'application/json' } });
  } catch (err) {
    throw new MesosMasterError(url, (err as Error).message);
  }
  if (!res.ok) throw new MesosMasterError(url, `answered ${res.status}`);
  const body = (await res.json().catch((err: unknown) => {
    throw new MesosMasterError(url, `the answer is not JSON: ${describeError(err)}`);
  })) as { slaves?: unknown } | null;
  if (!body || !Array.isArray(body.slaves)) throw new MesosMasterError(url, 'the answer has no slaves list');
  return body.slaves.filter(
    (s): s is MesosAgent =>
      !!s &&
      typeof s === 'object' &&
      typeof (s as MesosAgent).id === 'string' &&
      typeof (s as MesosAgent).hostname === 'string' &&
      typeof (s as MesosAgent).resources === 'object',
  );
}
