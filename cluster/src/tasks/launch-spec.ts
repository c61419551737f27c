/** What a task of an app gets: host ports, Marathon's environment variables, Docker labels and mounts. */
import { isAbsolute, join } from 'node:path';
import type { AppDefinition } from '../app/definition.js';
import { networkMode, requestedPorts } from '../app/definition.js';
import type { PortRange } from './ports.js';
import { applyParameters, type PrivilegePolicy } from './privileges.js';
import type { TaskLaunchSpec } from './runner.js';

/** Labels the engine puts on its containers, to find (adopt) them after a restart. */
export const ENGINE_LABEL = 'theseus.engine';
export const TASK_LABEL = 'theseus.engine.task-id';
export const APP_LABEL = 'theseus.engine.app-id';

export interface LaunchContext {
  hostname: string;
  engineId: string;
  hostPorts: PortRange;
  /** Extra labels on every container (e.g. a test run's label). */
  containerLabels: Record<string, string>;
  /** Where persistent volumes of tasks live. */
  volumesDir: string;
  /** Where sandboxes of tasks live. */
  sandboxesDir: string;
  /** Apps with a `cmd` and no image run as host processes (else in `defaultContainerImage`). */
  hostCommands: boolean;
  defaultContainerImage?: string;
  privileges: PrivilegePolicy;
}

/** Where a task's sandbox is mounted in its container, as Mesos does. */
export const CONTAINER_SANDBOX = '/mnt/mesos/sandbox';

export class PortsExhaustedError extends Error {}

export interface LaunchPlan {
  spec: TaskLaunchSpec;
  /** Why the task must not start (a setting changed since the app was accepted). */
  refused?: string;
  ports: number[];
  servicePorts: number[];
}

function envName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

export function planLaunch(app: AppDefinition, ids: { taskId: string }, ctx: LaunchContext): LaunchPlan {
  const mode = networkMode(app);
  const requested = requestedPorts(app);
  const taken: number[] = [];
  const hostPorts: Array<number | undefined> = [];
  for (const r of requested) {
    let port: number | undefined;
    if (r.hostPort === undefined) port = undefined;
    else if (r.hostPort > 0) port = r.hostPort;
    else {
      port = ctx.hostPorts.take();
      if (port === undefined) {
        for (const p of taken) ctx.hostPorts.release(p);
        throw new PortsExhaustedError(`no free host port in the engine's port range for ${app.id}`);
      }
      taken.push(port);
    }
    hostPorts.push(port);
  }
  const ports = hostPorts.filter((p): p is number => p !== undefined);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(app.env)) if (typeof v === 'string') env[k] = v;
  Object.assign(env, {
    HOST: ctx.hostname,
    MARATHON_APP_ID: app.id,
    MARATHON_APP_VERSION: app.version,
    MESOS_TASK_ID: ids.taskId,
    MARATHON_APP_RESOURCE_CPUS: String(app.cpus),
    MARATHON_APP_RESOURCE_MEM: String(app.mem),
    MARATHON_APP_RESOURCE_DISK: String(app.disk),
    MARATHON_APP_RESOURCE_GPUS: String(app.gpus),
    MARATHON_APP_LABELS: Object.keys(app.labels).map(envName).join(' '),
  });
  for (const [k, v] of Object.entries(app.labels)) env[`MARATHON_APP_LABEL_${envName(k)}`] = v;
  if (app.container?.docker?.image) env.MARATHON_APP_DOCKER_IMAGE = app.container.docker.image;
  requested.forEach((r, i) => {
    const port = hostPorts[i] ?? r.containerPort;
    if (port === undefined) return;
    env[`PORT${i}`] = String(port);
    if (r.name) env[`PORT_${envName(r.name)}`] = String(port);
    if (mode !== 'host' && r.containerPort) env[`PORT_${r.containerPort}`] = String(port);
  });
  if (env.PORT0) env.PORT = env.PORT0;
  if (requested.length > 0) env.PORTS = requested.flatMap((_, i) => env[`PORT${i}`] ?? []).join(',');

  const dockerImage = app.container?.docker?.image;
  const commandInContainer = !dockerImage && !ctx.hostCommands;
  const image = dockerImage ?? (commandInContainer ? ctx.defaultContainerImage : undefined);
  const params = applyParameters(app.container?.docker?.parameters ?? [], ctx.privileges);
  const volumes: TaskLaunchSpec['volumes'] = (app.container?.volumes ?? []).flatMap((v) => {
    const mode = v.mode === 'RO' ? ('RO' as const) : ('RW' as const);
    if (v.persistent != null) {
      const hostPath = join(ctx.volumesDir, ids.taskId, v.containerPath);
      return [{ hostPath, containerPath: join(CONTAINER_SANDBOX, v.containerPath), mode }];
    }
    if (typeof v.hostPath === 'string') {
      const hostPath = isAbsolute(v.hostPath) ? v.hostPath : join(ctx.volumesDir, ids.taskId, v.hostPath);
      return [{ hostPath, containerPath: v.containerPath, mode }];
    }
    return [];
  });
  if (commandInContainer) {
    volumes.unshift({ hostPath: join(ctx.sandboxesDir, ids.taskId), containerPath: CONTAINER_SANDBOX, mode: 'RW' });
    env.MESOS_SANDBOX = CONTAINER_SANDBOX;
  }
  volumes.push(...params.options.volumes);
  // without the host network namespace, a host-mode task gets the bridge with its ports published at the same numbers
  const network = params.options.network ?? (mode === 'host' && ctx.privileges.allowHostNetwork ? 'host' : 'bridge');
  const user = params.options.user ?? (typeof app.user === 'string' ? app.user : undefined);
  const workingDir = params.options.workingDir || (commandInContainer ? CONTAINER_SANDBOX : undefined);
  const spec: TaskLaunchSpec = {
    taskId: ids.taskId,
    appId: app.id,
    ...(app.cmd ? { cmd: app.cmd } : {}),
    ...(app.args?.length ? { args: app.args } : {}),
    ...(image ? { image } : {}),
    forcePullImage: app.container?.docker?.forcePullImage ?? false,
    privileged: params.options.privileged ?? app.container?.docker?.privileged ?? false,
    env: { ...params.options.env, ...env },
    labels: {
      ...params.options.labels,
      ...app.labels,
      ...ctx.containerLabels,
      [ENGINE_LABEL]: ctx.engineId,
      [TASK_LABEL]: ids.taskId,
      [APP_LABEL]: app.id,
    },
    network,
    ports: requested.flatMap((r, i) => {
      const hostPort = hostPorts[i];
      if (hostPort === undefined || network !== 'bridge') return [];
      const containerPort = r.containerPort || hostPort;
      return (r.protocol === 'udp,tcp' ? ['tcp', 'udp'] : [r.protocol]).map((protocol) => ({
        containerPort,
        hostPort,
        protocol: protocol as 'tcp' | 'udp',
      }));
    }),
    volumes,
    cpus: params.options.cpus ?? app.cpus,
    memMb: params.options.memMb ?? app.mem,
    ...(user !== undefined ? { user } : {}),
    ...(workingDir ? { workingDir } : {}),
    ...(params.options.hostname && network !== 'host' ? { hostname: params.options.hostname } : {}),
    killGraceSeconds: typeof app.taskKillGracePeriodSeconds === 'number' ? app.taskKillGracePeriodSeconds : 3,
    sandbox: join(ctx.sandboxesDir, ids.taskId),
  };
  const refused = params.problems.length > 0 ? params.problems.flatMap((p) => p.errors).join('; ') : undefined;
  return { spec, ports, servicePorts: requested.map((r) => r.servicePort), ...(refused ? { refused } : {}) };
}
