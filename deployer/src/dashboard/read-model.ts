/**
 * The dashboard's read model: every Theseus service group with its instances, each instance shown
 * twice, as Marathon sees the task and as the subscriber recorded its endpoint in etcd, with the
 * disagreements between the two spelled out. Built from one app list (tasks embedded) and one range
 * read of the endpoint records; free of HTTP.
 */
import { serviceRefOfApp, type MarathonAppInfo, type StoredEndpoint } from '@theseus/services';
import { detail, summarize, type ServiceGroupSummary, type TaskView } from '../service-view.js';
import type { InstanceUsage } from '../usage.js';

/** How an instance's endpoint record relates to Marathon's view of the task. */
export type Agreement =
  /** The record says what Marathon says. */
  | 'agree'
  /** Marathon runs the task (healthy, or without health checks) but there is no record. */
  | 'missing'
  /** No record, and none expected yet: the task is not running, or not healthy. */
  | 'unregistered'
  /** Record and task disagree on host, ports, version or health. */
  | 'differs'
  /** A record for a task Marathon does not know (any more). */
  | 'stale';

export interface InstancePort {
  name: string;
  /** `host:port` as Marathon reports it; undefined when the task has no host port for it. */
  marathon: string | undefined;
  /** `host:port` in the endpoint record. */
  record: string | undefined;
  /** Whether the port serves HTTP (a link on the page). */
  http: boolean;
}

export interface EndpointRecordView {
  host: string;
  ipAddresses: string[];
  appVersion: string;
  healthy: boolean | null;
  updatedAt: string;
  key: string;
}

export interface InstanceRow {
  id: string;
  host: string | undefined;
  /** Mesos task state; undefined for a stale record. */
  state: string | undefined;
  startedAt: string | null | undefined;
  version: string | undefined;
  /** undefined without health checks (or for a stale record). */
  healthy: boolean | undefined;
  ports: InstancePort[];
  record: EndpointRecordView | null;
  agreement: Agreement;
  /** What differs, in words ("host: marathon 10.0.0.1, record 10.0.0.2"). */
  differences: string[];
  /** What the instance really uses, from its agent; null when unknown. */
  usage: InstanceUsage | null;
}

export interface ServiceRow extends ServiceGroupSummary {
  /** Identity of the row on the page: the Marathon app id. */
  key: string;
  cpus: number;
  mem: number;
  hasHealthChecks: boolean;
  unhealthy: number;
  lastTaskFailure: { message: string; state: string; timestamp: string; taskId: string } | null;
  instancesView: InstanceRow[];
  /** Instances whose record is missing, differs or is stale. */
  disagreements: number;
  /** Instances using more than the warning share of their memory limit. */
  nearMemoryLimit: number;
}

/** Endpoint records by app id (records carry their app id). */
export function recordsByApp(endpoints: readonly StoredEndpoint[]): Map<string, StoredEndpoint[]> {
  const byApp = new Map<string, StoredEndpoint[]>();
  for (const e of endpoints) {
    let list = byApp.get(e.record.appId);
    if (!list) byApp.set(e.record.appId, (list = []));
    list.push(e);
  }
  return byApp;
}

export function serviceRows(
  apps: readonly MarathonAppInfo[],
  endpoints: ReadonlyMap<string, StoredEndpoint[]> | undefined,
  usage?: ReadonlyMap<string, InstanceUsage>,
): ServiceRow[] {
  return apps
    .filter((a) => serviceRefOfApp(a) !== undefined)
    .map((app) => serviceRow(app, endpoints?.get(app.id) ?? [], endpoints !== undefined, usage))
    .sort(byIdentity);
}

/**
 * One service group. `recordsKnown` is false when etcd could not be read: then no instance is
 * called missing for want of a record.
 */
export function serviceRow(
  app: MarathonAppInfo,
  records: readonly StoredEndpoint[],
  recordsKnown = true,
  usage?: ReadonlyMap<string, InstanceUsage>,
): ServiceRow {
  const view = detail(app);
  const hasHealthChecks = (app.healthChecks?.length ?? 0) > 0;
  const httpPorts = httpPortNames(app, Object.keys(view.spec.ports));
  const byTask = new Map(records.map((r) => [r.taskId, r]));
  const instancesView: InstanceRow[] = view.tasks.map((task) => {
    const stored = byTask.get(task.id);
    byTask.delete(task.id);
    return instanceRow(task, Object.keys(view.spec.ports), httpPorts, stored, recordsKnown, usage?.get(task.id));
  });
  for (const stored of byTask.values()) instancesView.push(staleRow(stored, httpPorts));
  const failure = app.lastTaskFailure as
    { message?: string; state?: string; timestamp?: string; taskId?: string } | undefined | null;
  return {
    ...summarize(app),
    key: app.id,
    cpus: app.cpus ?? 0,
    mem: app.mem ?? 0,
    hasHealthChecks,
    unhealthy: app.tasksUnhealthy ?? 0,
    lastTaskFailure: failure
      ? {
          message: failure.message ?? '',
          state: failure.state ?? '',
          timestamp: failure.timestamp ?? '',
          taskId: failure.taskId ?? '',
        }
      : null,
    instancesView,
    disagreements: instancesView.filter(
      (i) => i.agreement === 'missing' || i.agreement === 'differs' || i.agreement === 'stale',
    ).length,
    nearMemoryLimit: instancesView.filter((i) => i.usage?.nearLimit).length,
  };
}

function instanceRow(
  task: TaskView,
  portNames: readonly string[],
  httpPorts: ReadonlySet<string>,
  stored: StoredEndpoint | undefined,
  recordsKnown: boolean,
  usage: InstanceUsage | undefined,
): InstanceRow {
  const healthy = task.healthy;
  const marathonPorts = new Map(Object.entries(task.endpoints));
  const record = stored?.record;
  const recordPorts = new Map<string, string>();
  for (const [name, p] of Object.entries(record?.ports ?? {}))
    if (p.host !== null) recordPorts.set(name, `${record!.host}:${p.host}`);
  const names = [...new Set([...portNames, ...marathonPorts.keys(), ...recordPorts.keys()])];
  const ports = names.map((name) => ({
    name,
    marathon: marathonPorts.get(name),
    record: recordPorts.get(name),
    http: httpPorts.has(name),
  }));

  const differences: string[] = [];
  let agreement: Agreement;
  if (!record) {
    const expected = task.state === 'TASK_RUNNING' && (healthy === undefined || healthy);
    agreement = expected && recordsKnown ? 'missing' : 'unregistered';
    if (agreement === 'missing') differences.push('Marathon runs this task but etcd has no endpoint record for it');
  } else {
    if (record.host !== task.host) differences.push(`host: Marathon ${task.host}, record ${record.host}`);
    for (const p of ports)
      if (p.marathon !== p.record)
        differences.push(`port ${p.name}: Marathon ${p.marathon ?? 'none'}, record ${p.record ?? 'none'}`);
    if (task.version && record.appVersion !== task.version)
      differences.push(`version: Marathon ${task.version}, record ${record.appVersion}`);
    if (healthy !== undefined && record.healthy !== null && record.healthy !== healthy)
      differences.push(`healthy: Marathon ${healthy}, record ${record.healthy}`);
    if (task.state !== 'TASK_RUNNING')
      differences.push(`Marathon reports ${task.state ?? 'no state'} but the record is still there`);
    agreement = differences.length ? 'differs' : 'agree';
  }
  const { endpoints: _shownAsPorts, ...marathonView } = task;
  return {
    ...marathonView,
    ports,
    record: stored ? recordView(stored) : null,
    agreement,
    differences,
    usage: usage ?? null,
  };
}

function staleRow(stored: StoredEndpoint, httpPorts: ReadonlySet<string>): InstanceRow {
  const r = stored.record;
  return {
    id: stored.taskId,
    host: r.host,
    state: undefined,
    startedAt: r.startedAt,
    version: r.appVersion,
    healthy: undefined,
    ports: Object.entries(r.ports).map(([name, p]) => ({
      name,
      marathon: undefined,
      record: p.host === null ? undefined : `${r.host}:${p.host}`,
      http: httpPorts.has(name),
    })),
    record: recordView(stored),
    agreement: 'stale',
    differences: ['etcd has an endpoint record for a task Marathon does not run'],
    usage: null,
  };
}

function recordView(stored: StoredEndpoint): EndpointRecordView {
  const r = stored.record;
  return {
    host: r.host,
    ipAddresses: [...r.ipAddresses],
    appVersion: r.appVersion,
    healthy: r.healthy,
    updatedAt: r.updatedAt,
    key: stored.key,
  };
}

/** Ports an HTTP health check probes, and ports whose name says HTTP. */
function httpPortNames(app: MarathonAppInfo, names: readonly string[]): Set<string> {
  const result = new Set(names.filter((n) => /^(http|https|web|www|api|ui|admin)(-|$)/i.test(n)));
  for (const check of app.healthChecks ?? []) {
    if (!check.protocol || !/HTTP/.test(check.protocol)) continue;
    const name = names[check.portIndex ?? 0];
    if (name) result.add(name);
  }
  return result;
}

function byIdentity(a: ServiceRow, b: ServiceRow): number {
  return (
    a.namespace.localeCompare(b.namespace) ||
    a.service.localeCompare(b.service) ||
    a.labels.join(',').localeCompare(b.labels.join(','))
  );
}
