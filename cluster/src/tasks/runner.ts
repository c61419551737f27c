/** The seam between the scheduler and what runs a task: local processes, Docker containers, or a scripted runner. */
import type { MesosTaskState } from '@theseus/services';
import type { TaskUsage } from '../agent/monitor.js';

export interface TaskLaunchSpec {
  taskId: string;
  appId: string;
  /** Shell command (`/bin/sh -c`). */
  cmd?: string;
  /** Arguments for the image's entrypoint. */
  args?: string[];
  /** Docker image; absent for a local process. */
  image?: string;
  forcePullImage: boolean;
  privileged: boolean;
  env: Record<string, string>;
  labels: Record<string, string>;
  network: 'host' | 'bridge' | 'none';
  ports: Array<{ containerPort: number; hostPort: number; protocol: 'tcp' | 'udp' }>;
  volumes: Array<{ hostPath: string; containerPath: string; mode: 'RO' | 'RW' }>;
  cpus: number;
  memMb: number;
  user?: string;
  /** Working directory in the container [the image's]. */
  workingDir?: string;
  /** Container hostname (not with host networking). */
  hostname?: string;
  killGraceSeconds: number;
  /** The task's sandbox directory on this host (its `stdout` and `stderr` files). */
  sandbox: string;
}

export interface LaunchedTask {
  /** Runner-specific handle (a pid, a container id). */
  ref: string;
  ipAddress: string | null;
}

export interface TaskExit {
  /** null when unknown (e.g. an adopted process that ended while the engine was down). */
  exitCode: number | null;
  message: string;
  /** The terminal state as the agent reported it, when it is not what the exit code says. */
  state?: MesosTaskState;
}

/** What an agent reports about its tasks on its own: status updates and health check results. */
export interface AgentReports {
  status(taskId: string, state: MesosTaskState, message: string): void;
  health(taskId: string, alive: boolean, cause: string | null): void;
}

export type RunnerKind = 'process' | 'docker' | 'scripted';

export interface TaskRunner {
  readonly kind: RunnerKind;
  /** Makes the task runnable (pulls the image); throws with the reason when it cannot be. */
  prepare(spec: TaskLaunchSpec): Promise<void>;
  start(spec: TaskLaunchSpec): Promise<LaunchedTask>;
  /** Resolves when the task ends (at once when it already has, also for a task started by an earlier engine). */
  wait(ref: string, taskId: string): Promise<TaskExit>;
  /** SIGTERM, then SIGKILL after the grace period; idempotent. */
  stop(ref: string, graceSeconds: number): Promise<void>;
  /** The handle of a task started just before the engine died, before its handle was saved. */
  locate(taskId: string): Promise<string | undefined>;
  /** Whether `ref` still runs `taskId` (used to adopt tasks after a restart). */
  isRunning(ref: string, taskId: string): Promise<boolean>;
  /** Runs a COMMAND health check where the task runs, with its environment: the exit code, null on timeout. */
  exec(ref: string, spec: TaskLaunchSpec, command: string, timeoutMs: number): Promise<number | null>;
  /** Releases what remains of an ended task (a stopped container). */
  cleanup(ref: string): Promise<void>;
  /** Removes what this engine left running for no known task (after a restart). */
  removeUnknown?(engineId: string, known: ReadonlySet<string>): Promise<void>;
  /** The task's resource use now; undefined when it cannot be read (the task ended meanwhile). */
  usage?(ref: string): Promise<TaskUsage | undefined>;
  /** A kill before the task started: a pending `prepare` or `start` gives up. */
  cancel?(taskId: string): void;
  /** For runners that report status and health themselves (as an agent running MESOS_* checks): not probed. */
  attach?(reports: AgentReports): void;
}

export class TaskLaunchError extends Error {}
