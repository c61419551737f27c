/**
 * The read side: deployed services as a person (or the dashboard) wants to see them, built from
 * Marathon's apps and tasks. Each (service, namespace, label set) is one group; a task's named
 * ports are shown as `host:port`.
 */
import {
  DISCOVERY_ENV,
  labelsMatch,
  serviceRefOfApp,
  type MarathonAppInfo,
  type MarathonTask,
} from '@theseus/services';

export interface ServiceFilter {
  namespace?: string | undefined;
  /** Every one of these labels must be on the group. */
  labels?: readonly string[] | undefined;
  service?: string | undefined;
}

export interface ServiceGroupSummary {
  service: string;
  namespace: string;
  labels: string[];
  appId: string;
  image: string | undefined;
  instances: number;
  running: number;
  healthy: number;
  staged: number;
  /** Marathon app version (timestamp). */
  version: string;
  /** Marathon deployments in progress. */
  deployments: string[];
  ports: string[];
}

export interface TaskView {
  id: string;
  host: string;
  state: string | undefined;
  startedAt: string | null | undefined;
  version: string | undefined;
  /** undefined without health checks. */
  healthy: boolean | undefined;
  /** Port name -> `host:port`. */
  endpoints: Record<string, string>;
}

export interface ServiceGroupDetail extends ServiceGroupSummary {
  spec: {
    image: string | undefined;
    instances: number;
    cpus: number | undefined;
    mem: number | undefined;
    disk: number | undefined;
    cmd?: string;
    args?: string[];
    ports: Record<
      string,
      { containerPort: number | undefined; protocol: string | undefined; hostPort: number | undefined }
    >;
    /** The service's own environment (the discovery variables left out); values are null when hidden. */
    environment: Record<string, string | null>;
    constraints: string[];
    healthChecks: number;
  };
  lastTaskFailure: unknown;
  tasks: TaskView[];
}

export function matchesFilter(app: MarathonAppInfo, filter: ServiceFilter): boolean {
  const ref = serviceRefOfApp(app);
  if (!ref) return false;
  if (filter.namespace && ref.namespace !== filter.namespace) return false;
  if (filter.service && ref.service !== filter.service) return false;
  return labelsMatch(ref.labels, filter.labels ?? []);
}

export function summarize(app: MarathonAppInfo): ServiceGroupSummary {
  const ref = serviceRefOfApp(app)!;
  return {
    service: ref.service,
    namespace: ref.namespace,
    labels: [...ref.labels],
    appId: app.id,
    image: app.container?.docker?.image,
    instances: app.instances ?? 1,
    running: app.tasksRunning ?? 0,
    healthy: app.tasksHealthy ?? 0,
    staged: app.tasksStaged ?? 0,
    version: app.version,
    deployments: (app.deployments ?? []).map((d) => d.id),
    ports: portMappings(app).map((p, i) => p.name ?? `port${i}`),
  };
}

/**
 * Environment values are write-only to readers: a caller without the API token sees the names only.
 * The same goes for the values in a deployment record's changes (see DeploymentStore).
 */
export interface DetailOptions {
  /** The caller holds the API token. @defaultValue false */
  showEnvValues?: boolean;
}

export function detail(app: MarathonAppInfo, options: DetailOptions = {}): ServiceGroupDetail {
  const mappings = portMappings(app);
  const names = mappings.map((p, i) => p.name ?? `port${i}`);
  const discovery = new Set<string>(Object.values(DISCOVERY_ENV));
  const environment: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(app.env ?? {})) {
    if (typeof v === 'string' && !discovery.has(k) && !k.startsWith(DISCOVERY_ENV.containerPortPrefix))
      environment[k] = options.showEnvValues ? v : null;
  }
  const spec: ServiceGroupDetail['spec'] = {
    image: app.container?.docker?.image,
    instances: app.instances ?? 1,
    cpus: app.cpus,
    mem: app.mem,
    disk: app.disk,
    ports: Object.fromEntries(
      mappings.map((p, i) => [
        names[i]!,
        { containerPort: p.containerPort, protocol: p.protocol, hostPort: p.hostPort },
      ]),
    ),
    environment,
    constraints: (app.constraints ?? []).map((c) => `${c[0]}: ${c.slice(1).join(' ')}`),
    healthChecks: app.healthChecks?.length ?? 0,
  };
  if (typeof app.cmd === 'string') spec.cmd = app.cmd;
  if (Array.isArray(app.args)) spec.args = app.args;
  return {
    ...summarize(app),
    spec,
    lastTaskFailure: app.lastTaskFailure ?? null,
    tasks: (app.tasks ?? []).map((t) => taskView(t, names, Boolean(app.healthChecks?.length))),
  };
}

/** One task as shown to a person: state, health and `host:port` per named port. */
export function taskView(task: MarathonTask, names: readonly string[], hasChecks: boolean): TaskView {
  const endpoints: Record<string, string> = {};
  (task.ports ?? []).forEach((port, i) => {
    endpoints[names[i] ?? `port${i}`] = `${task.host}:${port}`;
  });
  return {
    id: task.id,
    host: task.host,
    state: task.state,
    startedAt: task.startedAt,
    version: task.version,
    healthy: hasChecks
      ? (task.healthCheckResults ?? []).length > 0 && (task.healthCheckResults ?? []).every((r) => r.alive)
      : undefined,
    endpoints,
  };
}

function portMappings(app: MarathonAppInfo) {
  return app.container?.portMappings ?? app.container?.docker?.portMappings ?? [];
}
