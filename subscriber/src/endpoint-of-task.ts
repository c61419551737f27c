/**
 * From a Marathon app and one of its tasks to what the subscriber's EndpointRecord is made of
 * (the app's model and the task's facts; endpoint-encoder.ts writes the record).
 *
 * Port names come from the app's `portDefinitions` (host networking) or `portMappings` (bridge and
 * container networks; the 1.4 `container.docker.portMappings` form too), `port<i>` when unnamed.
 * Host ports are the task's `ports`, in order, one per port that gets a host port: every port
 * definition, every bridge mapping, and in container mode only mappings that set `hostPort`.
 */
import {
  serviceRefOfApp,
  type EndpointPort,
  type MarathonApp,
  type MarathonPortDefinition,
  type MarathonTask,
  type ServiceRef,
} from '@theseus/services';

interface PortSlot {
  name: string;
  protocol: EndpointPort['protocol'];
  /** Fixed container port; null for host networking; 0 means "same as the host port". */
  containerPort: number | null;
  /** Index into the task's `ports`, or undefined when this port gets no host port. */
  hostPortIndex: number | undefined;
}

/** What the subscriber needs to know of an app (small: kept for every app). */
export interface AppModel {
  id: string;
  version: string;
  /** undefined: not a Theseus-managed app. */
  ref: ServiceRef | undefined;
  ports: PortSlot[];
  healthCheckCount: number;
}

/** What is known of one task, from an event or from Marathon's task list. */
export interface TaskFacts {
  taskId: string;
  host: string;
  ipAddresses: string[];
  ports: number[];
  version: string;
  startedAt: string | null;
  healthy: boolean | null;
}

export function appModelOf(app: MarathonApp): AppModel {
  return {
    id: app.id,
    version: app.version ?? '',
    ref: serviceRefOfApp(app),
    ports: portSlotsOf(app),
    healthCheckCount: app.healthChecks?.length ?? 0,
  };
}

function portSlotsOf(app: MarathonApp): PortSlot[] {
  const legacyNetwork = app.container?.docker?.network;
  const mode =
    app.networks?.[0]?.mode ??
    (legacyNetwork === 'BRIDGE' ? 'container/bridge' : legacyNetwork === 'USER' ? 'container' : 'host');
  if (mode === 'host') {
    const definitions: MarathonPortDefinition[] =
      app.portDefinitions ?? (Array.isArray(app.ports) ? (app.ports as number[]).map((port) => ({ port })) : []);
    return definitions.map((d, i) => ({
      name: d.name || `port${i}`,
      protocol: d.protocol ?? 'tcp',
      containerPort: null,
      hostPortIndex: i,
    }));
  }
  const mappings = app.container?.portMappings ?? app.container?.docker?.portMappings ?? [];
  let next = 0;
  return mappings.map((m, i) => ({
    name: m.name || `port${i}`,
    protocol: m.protocol ?? 'tcp',
    containerPort: m.containerPort ?? 0,
    hostPortIndex: mode === 'container/bridge' || m.hostPort !== undefined ? next++ : undefined,
  }));
}

/** Health from Marathon's task view: null without health checks, true only when every check passes. */
export function healthOfTask(model: AppModel, task: MarathonTask): boolean | null {
  if (model.healthCheckCount === 0) return null;
  const results = task.healthCheckResults ?? [];
  return results.length >= model.healthCheckCount && results.every((r) => r.alive);
}

export function factsOfTask(model: AppModel, task: MarathonTask): TaskFacts {
  return {
    taskId: task.id,
    host: task.host,
    ipAddresses: (task.ipAddresses ?? []).map((a) => a.ipAddress),
    ports: task.ports ?? [],
    version: task.version ?? model.version,
    startedAt: task.startedAt ?? null,
    healthy: healthOfTask(model, task),
  };
}

/** True when a task of this app in this state should be found by its peers. */
export function isServing(
  model: AppModel,
  state: string | undefined,
  healthy: boolean | null,
  requireHealthy: boolean,
): boolean {
  if (state !== 'TASK_RUNNING') return false;
  if (model.healthCheckCount > 0 && requireHealthy) return healthy === true;
  return true;
}
