/**
 * What a Mesos agent's `GET /monitor/statistics` answers, for the engine's tasks: one entry per
 * running task (Marathon's tasks run under the command executor, so executor id and source are the
 * task id) with its ResourceStatistics, read from the runner (a container's cgroup, a process
 * group's /proc entries). ResourceStatistics has no OOM count; `mem_oom_kills` is the engine's own
 * field (Mesos reports an OOM kill only on the task's terminal status).
 */
import type { ContainerUsage } from '@theseus/containerizer';
import type { Logger } from '@theseus/services';
import type { TaskRecord } from '../tasks/task.js';
import type { TaskRunner } from '../tasks/runner.js';

/** A task's resource use as its runner reads it; a null limit is one the runner does not enforce. */
export type TaskUsage = Omit<ContainerUsage, 'running'>;

/** `mesos.ResourceStatistics` as JSON, the fields the engine reads, plus `mem_oom_kills`. */
export interface ResourceStatisticsJson {
  timestamp: number;
  cpus_user_time_secs: number;
  cpus_system_time_secs: number;
  cpus_limit: number;
  mem_rss_bytes: number;
  mem_total_bytes?: number;
  mem_limit_bytes: number;
  mem_oom_kills?: number;
}

export interface MonitorEntry {
  executor_id: string;
  executor_name: string;
  framework_id: string;
  source: string;
  statistics: ResourceStatisticsJson;
}

const MONITORED = new Set(['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING']);

/**
 * Statistics of the tasks that run now. A task whose use cannot be read (it ended meanwhile, its
 * runner reads none) is left out, as a Mesos agent leaves out an executor it has no sample for.
 */
export async function taskStatistics(
  tasks: readonly TaskRecord[],
  runnerOf: (task: TaskRecord) => TaskRunner | undefined,
  frameworkId: string,
  logger: Logger,
): Promise<MonitorEntry[]> {
  const entries = await Promise.all(
    tasks
      .filter((t) => MONITORED.has(t.state) && t.ref)
      .map(async (task): Promise<MonitorEntry | undefined> => {
        const runner = runnerOf(task);
        if (!runner?.usage) return undefined;
        let usage: TaskUsage | undefined;
        try {
          usage = await runner.usage(task.ref!);
        } catch (err) {
          logger.warn('could not read the resource use of a task', { taskId: task.id, error: String(err) });
          return undefined;
        }
        if (!usage) return undefined;
        return {
          executor_id: task.id,
          executor_name: `Command Executor (Task: ${task.id}) (Command: ${commandOf(task)})`,
          framework_id: frameworkId,
          source: task.id,
          statistics: statisticsOf(task, usage),
        };
      }),
  );
  return entries.filter((e): e is MonitorEntry => e !== undefined);
}

/** Limits the runner does not enforce are the task's allocation, as Mesos reports them. */
function statisticsOf(task: TaskRecord, u: TaskUsage): ResourceStatisticsJson {
  return {
    timestamp: u.timestamp,
    cpus_user_time_secs: round(u.cpuUserSeconds),
    cpus_system_time_secs: round(u.cpuSystemSeconds),
    cpus_limit: u.cpusLimit ?? task.cpus,
    mem_rss_bytes: u.memRssBytes,
    ...(u.memTotalBytes !== undefined ? { mem_total_bytes: u.memTotalBytes } : {}),
    mem_limit_bytes: u.memLimitBytes ?? Math.round(task.mem * 1024 * 1024),
    ...(u.oomKills !== undefined ? { mem_oom_kills: u.oomKills } : {}),
  };
}

function commandOf(task: TaskRecord): string {
  if (task.spec.cmd) return `sh -c '${task.spec.cmd}'`;
  return task.spec.image ? `docker ${task.spec.image}` : 'none';
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
