/** A task as the engine tracks it, and its Marathon JSON (task.raml `Task`). */
import { randomUUID } from 'node:crypto';
import type { MarathonTask, MesosTaskState } from '@theseus/services';
import type { RunnerKind, TaskLaunchSpec } from './runner.js';

export interface HealthResult {
  alive: boolean;
  consecutiveFailures: number;
  firstSuccess: string | null;
  lastSuccess: string | null;
  lastFailure: string | null;
  lastFailureCause: string | null;
  instanceId: string;
}

export interface TaskRecord {
  id: string;
  instanceId: string;
  appId: string;
  /** App version the task was launched for. */
  version: string;
  /** The app's `lastConfigChangeAt` at launch: tasks of an older config are replaced on upgrade. */
  configVersion: string;
  state: MesosTaskState;
  stagedAt: string;
  startedAt: string | null;
  host: string;
  ports: number[];
  servicePorts: number[];
  ipAddresses: Array<{ ipAddress: string; protocol: 'IPv4' | 'IPv6' }>;
  runner: RunnerKind;
  ref?: string;
  spec: TaskLaunchSpec;
  cpus: number;
  mem: number;
  healthCheckResults: HealthResult[];
  /** Set once the engine decided to kill it (scale down, upgrade, unhealthy, API). */
  killRequested?: boolean;
}

export const TERMINAL_STATES: ReadonlySet<MesosTaskState> = new Set([
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_ERROR',
  'TASK_LOST',
  'TASK_DROPPED',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
] as MesosTaskState[]);

/** Instance condition names (`instance_changed_event.condition`) of each task state. */
export const CONDITION: Partial<Record<MesosTaskState, string>> = {
  TASK_STAGING: 'Staging',
  TASK_STARTING: 'Starting',
  TASK_RUNNING: 'Running',
  TASK_KILLING: 'Killing',
  TASK_FINISHED: 'Finished',
  TASK_FAILED: 'Failed',
  TASK_KILLED: 'Killed',
  TASK_ERROR: 'Error',
  TASK_LOST: 'Unreachable',
  TASK_GONE: 'Gone',
  TASK_DROPPED: 'Dropped',
  TASK_UNKNOWN: 'Unknown',
};

/** Marathon 1.8+ ids: instance `<app path with _>.instance-<uuid>`, task `<instance>._app.<incarnation>`. */
export function newTaskIds(appId: string): { instanceId: string; taskId: string } {
  const instanceId = `${appId.replace(/^\//, '').split('/').join('_')}.instance-${randomUUID()}`;
  return { instanceId, taskId: `${instanceId}._app.1` };
}

export function taskJson(task: TaskRecord, agentId: string): MarathonTask {
  return {
    appId: task.appId,
    healthCheckResults: task.healthCheckResults,
    host: task.host,
    id: task.id,
    ipAddresses: task.ipAddresses,
    ports: task.ports,
    servicePorts: task.servicePorts,
    slaveId: agentId,
    stagedAt: task.stagedAt,
    ...(task.startedAt ? { startedAt: task.startedAt } : {}),
    state: task.state,
    version: task.version,
    localVolumes: [],
  };
}

/** Healthy as Marathon counts it: running and every health check alive (apps without checks: running). */
export function isHealthy(task: TaskRecord, healthCheckCount: number): boolean {
  if (task.state !== 'TASK_RUNNING' || task.killRequested) return false;
  if (healthCheckCount === 0) return true;
  const results = task.healthCheckResults.filter(Boolean);
  return results.length >= healthCheckCount && results.every((r) => r.alive);
}
