/** What a task of an app gets: host ports, Marathon's environment variables, Docker labels and mounts. */
import { isAbsolute, join } from 'node:path';
import type { AppDefinition } from '../app/definition.js';
import { networkMode, requestedPorts } from '../app/definition.js';
import type { PortRange } from './ports.js';
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
}

export class PortsExhaustedError extends Error {}

export interface LaunchPlan {
  spec: TaskLaunchSpec;
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
  if (requested.length > 0) env.PORTS = requested.map((_, i) => env[`PORT${i}`]).filter(Boolean).join(',');

  const image = app.container?.docker?.image;
  const volumes = (app.container?.volumes ?? []).flatMap((v) => {
    const mode = v.mode === 'RO' ? ('RO' as const) : ('RW' as const);
    if (v.persistent != null) return [{ hostPath: join(ctx.volumesDir, ids.taskId, v.containerPath), containerPath: join('/mnt/mesos/sandbox', v.containerPath), mode }];
    if (typeof v.hostPath === 'string') {
      const hostPath = isAbsolute(v.hostPath) ? v.hostPath : join(ctx.volumesDir, ids.taskId, v.hostPath);
      return [{ hostPath, containerPath: v.containerPath, mode }];
    }
    return [];
  });
  const spec: TaskLaunchSpec = {
    taskId: ids.taskId,
    appId: app.id,
    ...(app.cmd ? { cmd: app.cmd } : {}),
    ...(app.args?.length ? { args: app.args } : {}),
    ...(image ? { image } : {}),
    forcePullImage: app.container?.docker?.forcePullImage ?? false,
    privileged: app.container?.docker?.privileged ?? false,
    env,
    labels: { ...app.labels, ...ctx.containerLabels, [ENGINE_LABEL]: ctx.engineId, [TASK_LABEL]: ids.taskId, [APP_LABEL]: app.id },
    network: mode === 'host' ? 'host' : 'bridge',
    ports: requested.flatMap((r, i) => {
      const hostPort = hostPorts[i];
      if (hostPort === undefined || mode === 'host') return [];
      const containerPort = r.containerPort || hostPort;
      return (r.protocol === 'udp,tcp' ? ['tcp', 'udp'] : [r.protocol]).map((protocol) => ({ containerPort, hostPort, protocol: protocol as 'tcp' | 'udp' }));
    }),
    volumes,
    cpus: app.cpus,
    memMb: app.mem,
    ...(typeof app.user === 'string' ? { user: app.user } : {}),
    killGraceSeconds: typeof app.taskKillGracePeriodSeconds === 'number' ? app.taskKillGracePeriodSeconds : 3,
  };
  return { spec, ports, servicePorts: requested.map((r) => r.servicePort) };
}
