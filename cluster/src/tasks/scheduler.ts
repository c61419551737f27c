/**
 * Task lifecycle as Marathon reports it (STAGING, STARTING, RUNNING, KILLING, terminal; each a
 * `status_update_event` and an `instance_changed_event`), capacity (what does not fit waits, like an
 * unmatched offer), host ports, relaunch backoff, and adoption after a restart.
 */
import { join } from 'node:path';
import type { Logger, MesosTaskState } from '@theseus/services';
import type { AppDefinition } from '../app/definition.js';
import type { EventBus } from '../events/bus.js';
import { timestamp } from '../time.js';
import { planLaunch, PortsExhaustedError, type LaunchContext } from './launch-spec.js';
import { resolveMounts } from './privileges.js';
import type { RunnerKind, TaskRunner } from './runner.js';
import { constraintProblem } from './constraints.js';
import { CONDITION, TERMINAL_STATES, newTaskIds, type TaskRecord } from './task.js';

export interface SchedulerOptions extends LaunchContext {
  agentId: string;
  capacity: { cpus: number; memMb: number };
  /** With a scripted runner, it runs every task; otherwise images run in Docker, commands as processes. */
  runners: Partial<Record<RunnerKind, TaskRunner>>;
  logger: Logger;
}

export interface LaunchDelay {
  delayMs: number;
  until: number;
}

/** Marathon's `lastTaskFailure`. */
export type TaskFailure = Record<
  'appId' | 'host' | 'message' | 'state' | 'taskId' | 'timestamp' | 'version' | 'slaveId',
  string
>;

export class Scheduler {
  readonly tasks = new Map<string, TaskRecord>();
  private readonly byApp = new Map<string, Set<TaskRecord>>();
  readonly delays = new Map<string, LaunchDelay>();
  readonly lastFailures = new Map<string, TaskFailure>();
  onTaskChange: (task: TaskRecord) => void = () => {};
  /** A task failed on its own (not killed): the app's launch delay grows. */
  onTaskFailed: (task: TaskRecord) => void = () => {};

  private detached = false;

  /** `state.changed()` schedules a write; `state.flush()` resolves once the current state is on disk. */
  constructor(
    private readonly options: SchedulerOptions,
    private readonly bus: EventBus,
    private readonly state: { changed(): void; flush(): Promise<void> },
  ) {}

  tasksOf(appId: string): TaskRecord[] {
    return [...(this.byApp.get(appId) ?? [])];
  }

  /** Also loads tasks for the benchmark's in-memory population. */
  track(task: TaskRecord): void {
    this.tasks.set(task.id, task);
    let set = this.byApp.get(task.appId);
    if (!set) this.byApp.set(task.appId, (set = new Set()));
    set.add(task);
  }

  private untrack(task: TaskRecord): void {
    this.tasks.delete(task.id);
    const set = this.byApp.get(task.appId);
    set?.delete(task);
    if (set?.size === 0) this.byApp.delete(task.appId);
  }

  used(): { cpus: number; memMb: number } {
    const used = { cpus: 0, memMb: 0 };
    for (const t of this.tasks.values()) {
      used.cpus += t.cpus;
      used.memMb += t.mem;
    }
    return used;
  }

  /** Why a task of `app` cannot be launched now, or undefined when it can. */
  blocker(app: AppDefinition, now = Date.now()): string | undefined {
    const delay = this.delays.get(app.id);
    if (delay && delay.until > now) return `launch delayed by backoff for ${Math.ceil((delay.until - now) / 1000)} s`;
    const placed = constraintProblem(app.constraints, this.options.hostname, this.byApp.get(app.id)?.size ?? 0);
    if (placed) return placed;
    const used = this.used();
    const free = { cpus: this.options.capacity.cpus - used.cpus, memMb: this.options.capacity.memMb - used.memMb };
    if (app.cpus > free.cpus + 1e-9 || app.mem > free.memMb + 1e-9) {
      return `insufficient resources: needs cpus=${app.cpus} mem=${app.mem}, free cpus=${round(free.cpus)} mem=${round(free.memMb)}`;
    }
    return undefined;
  }

  /** Launches one task of `app`; returns why not when it cannot now. */
  launch(app: AppDefinition): string | undefined {
    const blocked = this.blocker(app);
    if (blocked) return blocked;
    const ids = newTaskIds(app.id);
    let plan;
    try {
      plan = planLaunch(app, ids, this.options);
    } catch (err) {
      if (err instanceof PortsExhaustedError) return err.message;
      throw err;
    }
    const kind: RunnerKind = this.options.runners.scripted ? 'scripted' : plan.spec.image ? 'docker' : 'process';
    const runner = kind === 'process' && !this.options.hostCommands ? undefined : this.options.runners[kind];
    const task: TaskRecord = {
      id: ids.taskId,
      instanceId: ids.instanceId,
      appId: app.id,
      version: app.version,
      configVersion: app.versionInfo.lastConfigChangeAt,
      state: 'TASK_STAGING',
      stagedAt: timestamp(),
      startedAt: null,
      host: this.options.hostname,
      ports: plan.ports,
      servicePorts: plan.servicePorts,
      ipAddresses: [],
      runner: kind,
      spec: plan.spec,
      cpus: app.cpus,
      mem: app.mem,
      healthCheckResults: [],
    };
    this.track(task);
    this.emit(task, '');
    this.state.changed();
    void this.run(task, runner, plan.refused);
    return undefined;
  }

  /** Why the task must not run here, or undefined; resolves its host paths to what gets mounted. */
  private refused(task: TaskRecord): string | undefined {
    const { privileges } = this.options;
    if (task.spec.privileged && !privileges.allowPrivileged)
      return 'privileged containers are not allowed by this engine (engine.allowPrivileged, ENGINE_ALLOW_PRIVILEGED)';
    if (task.spec.user !== undefined && !privileges.allowUser)
      return `choosing the user (${task.spec.user}) is not allowed by this engine (engine.allowUser, ENGINE_ALLOW_USER)`;
    const own = [join(this.options.volumesDir, task.id), join(this.options.sandboxesDir, task.id)];
    task.spec.volumes = resolveMounts(task.spec.volumes, own, privileges);
    return undefined;
  }

  private async run(task: TaskRecord, runner: TaskRunner | undefined, refusedAtPlan?: string): Promise<void> {
    try {
      if (!runner && !task.spec.image && !this.options.hostCommands) {
        throw new Error(
          'apps with a cmd and no container run in engine.defaultContainerImage, which is not set (or set engine.allowHostCommands to run them on the host)',
        );
      }
      if (!runner) throw new Error('Docker is not available to this engine');
      const refused = refusedAtPlan ?? this.refused(task);
      if (refused) throw new Error(refused);
      await runner.prepare(task.spec);
      if (task.killRequested) return this.finish(task, 'TASK_KILLED', 'Killed before start');
      // the task is on disk before it runs, so a crash of the engine never leaves it unknown
      await this.state.flush();
      this.transition(task, 'TASK_STARTING', '');
      const launched = await runner.start(task.spec);
      task.ref = launched.ref;
      if (launched.ipAddress) task.ipAddresses = [{ ipAddress: launched.ipAddress, protocol: 'IPv4' }];
      else if (/^\d+\.\d+\.\d+\.\d+$/.test(task.host)) task.ipAddresses = [{ ipAddress: task.host, protocol: 'IPv4' }];
      task.startedAt = timestamp();
      this.state.changed();
      if (task.killRequested) {
        this.transition(task, 'TASK_KILLING', '');
        await runner.stop(launched.ref, task.spec.killGraceSeconds);
      } else this.transition(task, 'TASK_RUNNING', '');
      await this.follow(task, runner);
    } catch (err) {
      this.finish(task, task.killRequested ? 'TASK_KILLED' : 'TASK_FAILED', (err as Error).message);
    }
  }

  /** Waits for a started task to end and reports how. */
  private async follow(task: TaskRecord, runner: TaskRunner): Promise<void> {
    const exit = await runner.wait(task.ref!, task.id);
    const state: MesosTaskState = task.killRequested
      ? 'TASK_KILLED'
      : (exit.state ?? (exit.exitCode === 0 ? 'TASK_FINISHED' : 'TASK_FAILED'));
    this.finish(task, state, exit.message);
    void runner.cleanup(task.ref!).catch(this.failed('cleaning up after a task', task.id, undefined));
  }

  /** Kills a task: KILLING, then KILLED once it has ended. */
  kill(task: TaskRecord): void {
    if (task.killRequested || TERMINAL_STATES.has(task.state)) return;
    task.killRequested = true;
    const runner = this.options.runners[task.runner];
    if (!task.ref) {
      // not started yet: run() ends it as KILLED
      runner?.cancel?.(task.id);
      return;
    }
    this.transition(task, 'TASK_KILLING', '');
    void runner?.stop(task.ref, task.spec.killGraceSeconds).catch(this.failed('stopping a task', task.id, undefined));
  }

  /** A rejection handler that logs what failed for which task and recovers with `fallback`. */
  private failed<T>(action: string, taskId: string, fallback: T): (err: unknown) => T {
    return (err) => {
      this.options.logger.warn(`${action} failed`, { taskId, error: String(err) });
      return fallback;
    };
  }

  /** A status update its agent reported on its own (a runner with `attach`). */
  report(taskId: string, state: MesosTaskState, message: string): void {
    const task = this.tasks.get(taskId);
    if (!task || TERMINAL_STATES.has(task.state)) return;
    if (TERMINAL_STATES.has(state)) this.finish(task, state, message);
    else this.transition(task, state, message);
  }

  /** The engine is stopping: what happens to tasks from now on is the next engine's to find out. */
  detach(): void {
    this.detached = true;
  }

  private finish(task: TaskRecord, state: MesosTaskState, message: string): void {
    if (TERMINAL_STATES.has(task.state) || this.detached) return;
    this.transition(task, state, message);
    this.untrack(task);
    for (const p of task.ports) this.options.hostPorts.release(p);
    if (state === 'TASK_FAILED') {
      this.lastFailures.set(task.appId, {
        appId: task.appId,
        host: task.host,
        message,
        state,
        taskId: task.id,
        timestamp: timestamp(),
        version: task.version,
        slaveId: this.options.agentId,
      });
      this.onTaskFailed(task);
    }
    this.state.changed();
  }

  /** Grows the app's relaunch delay after a failure (backoffSeconds * backoffFactor^n, capped). */
  recordFailure(app: AppDefinition): void {
    const now = Date.now();
    const current = this.delays.get(app.id);
    const expired = current && now > current.until + app.maxLaunchDelaySeconds * 1000;
    const delayMs =
      !current || expired
        ? app.backoffSeconds * 1000
        : Math.min(current.delayMs * app.backoffFactor, app.maxLaunchDelaySeconds * 1000);
    this.delays.set(app.id, { delayMs, until: now + delayMs });
  }

  private transition(task: TaskRecord, state: MesosTaskState, message: string): void {
    if (this.detached) return;
    task.state = state;
    this.emit(task, message);
    this.onTaskChange(task);
  }

  private emit(task: TaskRecord, message: string): void {
    const terminal = TERMINAL_STATES.has(task.state);
    this.bus.publish('status_update_event', {
      slaveId: this.options.agentId,
      taskId: task.id,
      taskStatus: task.state,
      message,
      appId: task.appId,
      host: task.host,
      ipAddresses: task.ipAddresses,
      ports: terminal ? [] : task.ports,
      version: task.version,
    });
    this.bus.publish('instance_changed_event', {
      instanceId: task.instanceId,
      condition: CONDITION[task.state] ?? 'Unknown',
      runSpecId: task.appId,
      agentId: this.options.agentId,
      host: task.host,
      runSpecVersion: task.version,
    });
  }

  /** After a restart: keeps following tasks whose process/container still runs; the others are gone. */
  async adopt(tasks: TaskRecord[]): Promise<void> {
    for (const task of tasks) {
      this.track(task);
      for (const p of task.ports) this.options.hostPorts.reserve(p);
    }
    await Promise.all(
      tasks.map(async (task) => {
        const runner = this.options.runners[task.runner];
        if (runner && !task.ref)
          task.ref = await runner.locate(task.id).catch(this.failed('locating a task', task.id, undefined));
        const running = Boolean(runner && task.ref) && (await runner!.isRunning(task.ref!, task.id).catch(() => false));
        if (!running) {
          // ended while the engine was down: report how, when the runner still knows
          const exit =
            runner && task.ref
              ? await runner.wait(task.ref, task.id).catch(this.failed('reading how a task ended', task.id, undefined))
              : undefined;
          const state: MesosTaskState = task.killRequested
            ? 'TASK_KILLED'
            : exit?.exitCode === 0
              ? 'TASK_FINISHED'
              : exit?.exitCode != null
                ? 'TASK_FAILED'
                : 'TASK_GONE';
          this.finish(task, state, exit?.message ?? 'Task was not found after the engine restarted');
          if (runner && task.ref)
            void runner.cleanup(task.ref).catch(this.failed('cleaning up after a task', task.id, undefined));
          return;
        }
        this.options.logger.info('adopted a running task', { taskId: task.id });
        if (task.state === 'TASK_STAGING' || task.state === 'TASK_STARTING') this.transition(task, 'TASK_RUNNING', '');
        if (task.killRequested) this.transition(task, 'TASK_KILLING', '');
        void this.follow(task, runner!).catch((err: unknown) => this.finish(task, 'TASK_FAILED', String(err)));
        if (task.killRequested)
          void runner!
            .stop(task.ref!, task.spec.killGraceSeconds)
            .catch(this.failed('stopping a task', task.id, undefined));
      }),
    );
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
