/**
 * The seam between the scheduler and whatever runs a task: local processes for apps with a `cmd`
 * and no image, Docker containers (through the containerizer's driver) for apps with an image, or
 * one scripted runner for every task, whose state changes and health results a caller drives.
 */
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
  /**
   * Runs a COMMAND health check (`/bin/sh -c`) where the task runs (its sandbox on this host, inside its
   * container) with its environment; resolves to the exit code, null when it did not end in time.
   */
  exec(ref: string, spec: TaskLaunchSpec, command: string, timeoutMs: number): Promise<number | null>;
  /** Releases what remains of an ended task (a stopped container). */
  cleanup(ref: string): Promise<void>;
  /** The task's resource use now; undefined when it cannot be read (the task ended meanwhile). */
  usage?(ref: string): Promise<TaskUsage | undefined>;
  /** A kill before the task started: a pending `prepare` or `start` gives up. */
  cancel?(taskId: string): void;
  /**
   * Runners that report status updates and health results themselves (as a Mesos agent running
   * MESOS_* checks does) get the engine's intake here; their tasks are not probed by the engine.
   */
  attach?(reports: AgentReports): void;
}

export class TaskLaunchError extends Error {}
