/**
 * A runner whose tasks run nowhere: each follows a script (how far, how soon, what health) and its
 * caller drives the rest as an agent would report it. The engine treats these tasks as real ones.
 */
import type { MesosTaskState } from '@theseus/services';
import type { AgentReports, LaunchedTask, TaskExit, TaskLaunchSpec, TaskRunner } from './runner.js';
import { TERMINAL_STATES } from './task.js';

export interface TaskScript {
  /** How far the task gets on its own [TASK_RUNNING]. */
  until?: 'TASK_STAGING' | 'TASK_STARTING' | 'TASK_RUNNING';
  /** How long it takes to get there [0]. */
  afterMs?: number;
  /** The health it reports once running; none when undefined [true]. */
  healthy?: boolean | undefined;
}

function gate() {
  let open!: () => void;
  let fail!: (err: Error) => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  // The failure reaches whoever awaits the gate; this handler only keeps a gate nobody awaits from
  // being reported as an unhandled rejection.
  // eslint-disable-next-line no-restricted-syntax
  promise.catch(() => {});
  return { promise, open, fail };
}

interface ScriptedTask {
  spec: TaskLaunchSpec;
  script: TaskScript;
  staged: ReturnType<typeof gate>;
  started: ReturnType<typeof gate>;
  ended: Promise<TaskExit>;
  end(exit: TaskExit): void;
  running: boolean;
  done: boolean;
  timer?: NodeJS.Timeout;
}

const STAGES = ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING'];

export class ScriptedRunner implements TaskRunner {
  readonly kind = 'scripted' as const;
  private readonly tasks = new Map<string, ScriptedTask>();
  private readonly queued: Array<{ appId?: string; script: TaskScript; launched: (taskId: string) => void }> = [];
  private reports: AgentReports | undefined;

  /** `script` is what tasks do when no `next()` script was queued for them; it can be changed at any time. */
  constructor(public script: (spec: TaskLaunchSpec) => TaskScript = () => ({})) {}

  attach(reports: AgentReports): void {
    this.reports = reports;
  }

  /** The next task launched (of `appId`, when given) follows `script`; resolves to its id once launched. */
  next(script: TaskScript, appId?: string): Promise<string> {
    return new Promise((launched) => this.queued.push({ ...(appId ? { appId } : {}), script, launched }));
  }

  /** Ids of the tasks that have not ended, in launch order. */
  taskIds(): string[] {
    return [...this.tasks.keys()].filter((id) => !this.tasks.get(id)!.done);
  }

  /** Where a task is held: its stage, or undefined when it is not held (running, ended, unknown). */
  heldAt(taskId: string): 'TASK_STAGING' | 'TASK_STARTING' | undefined {
    const task = this.tasks.get(taskId);
    if (!task || task.running || task.done) return undefined;
    return task.script.until === 'TASK_STARTING' ? 'TASK_STARTING' : 'TASK_STAGING';
  }

  /** Moves a task on as its agent would report it: a held task goes on, a terminal state ends it, others as is. */
  advance(taskId: string, state: MesosTaskState, message = ''): void {
    const task = this.tasks.get(taskId);
    if (!task || task.done) throw new Error(`no live scripted task ${taskId}`);
    if (state === 'TASK_STARTING' || state === 'TASK_RUNNING') {
      clearTimeout(task.timer);
      task.staged.open();
      if (state === 'TASK_RUNNING') task.started.open();
      else task.script = { ...task.script, until: 'TASK_STARTING' };
      return;
    }
    if (!TERMINAL_STATES.has(state)) {
      this.reports?.status(taskId, state, message);
      return;
    }
    const exit: TaskExit = { exitCode: state === 'TASK_FINISHED' ? 0 : 1, message, state };
    if (!task.running) this.reports?.status(taskId, state, message);
    task.end(exit);
  }

  /** Reports the result of every health check of a running task. */
  setHealth(taskId: string, alive: boolean, cause: string | null = alive ? null : 'health check failed'): void {
    this.reports?.health(taskId, alive, cause);
  }

  /** Lets every held task run (TASK_RUNNING). */
  runAll(): void {
    for (const id of this.taskIds()) if (this.heldAt(id)) this.advance(id, 'TASK_RUNNING');
  }

  async prepare(spec: TaskLaunchSpec): Promise<void> {
    const index = this.queued.findIndex((q) => !q.appId || q.appId === spec.appId);
    const queued = index >= 0 ? this.queued.splice(index, 1)[0] : undefined;
    const script = { healthy: true, ...(queued?.script ?? this.script(spec)) };
    let ended!: (exit: TaskExit) => void;
    const task: ScriptedTask = {
      spec,
      script,
      staged: gate(),
      started: gate(),
      ended: new Promise<TaskExit>((resolve) => (ended = resolve)),
      end: (exit) => {
        if (task.done) return;
        task.done = true;
        if (!task.running) this.tasks.delete(spec.taskId);
        clearTimeout(task.timer);
        const err = new Error(exit.message || 'ended before it started');
        task.staged.fail(err);
        task.started.fail(err);
        ended(exit);
      },
      running: false,
      done: false,
    };
    this.tasks.set(spec.taskId, task);
    queued?.launched(spec.taskId);
    const reach = STAGES.indexOf(script.until ?? 'TASK_RUNNING');
    const go = () => {
      if (reach >= 1) task.staged.open();
      if (reach >= 2) task.started.open();
    };
    if (script.afterMs) task.timer = setTimeout(go, script.afterMs).unref();
    else go();
    return task.staged.promise;
  }

  async start(spec: TaskLaunchSpec): Promise<LaunchedTask> {
    const task = this.tasks.get(spec.taskId)!;
    await task.started.promise;
    task.running = true;
    if (task.script.healthy !== undefined) {
      const healthy = task.script.healthy;
      // reported once the engine has seen the task running
      setImmediate(() => !task.done && this.setHealth(spec.taskId, healthy));
    }
    return { ref: spec.taskId, ipAddress: null };
  }

  wait(ref: string): Promise<TaskExit> {
    return this.tasks.get(ref)?.ended ?? Promise.resolve({ exitCode: null, message: 'unknown task' });
  }

  async stop(ref: string): Promise<void> {
    this.tasks.get(ref)?.end({ exitCode: 137, message: 'killed' });
  }

  cancel(taskId: string): void {
    this.tasks.get(taskId)?.end({ exitCode: null, message: 'Killed before start' });
  }

  async locate(taskId: string): Promise<string | undefined> {
    return this.tasks.has(taskId) ? taskId : undefined;
  }

  async isRunning(ref: string): Promise<boolean> {
    const task = this.tasks.get(ref);
    return Boolean(task && !task.done);
  }

  async exec(): Promise<number | null> {
    return 0;
  }

  async cleanup(ref: string): Promise<void> {
    this.tasks.delete(ref);
  }
}
