/**
 * Runs a task as a local process group: `/bin/sh -c <cmd>` in a sandbox directory under the data
 * directory (stdout/stderr files, like a Mesos sandbox). Processes are detached, so they outlive the
 * engine and are adopted after a restart; the wrapper shell writes the exit code to the sandbox so it
 * is known even when the engine was not the parent any more.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processGroupUsage } from '../agent/process-usage.js';
import type { TaskUsage } from '../agent/monitor.js';
import type { LaunchedTask, TaskExit, TaskLaunchSpec, TaskRunner } from './runner.js';

const WRAPPER = '/bin/sh -c "$0"; code=$?; echo $code > .exit_status; exit $code';

export class ProcessRunner implements TaskRunner {
  readonly kind = 'process' as const;
  private readonly children = new Map<string, ChildProcess>();
  private readonly sandboxes = new Map<string, string>();

  constructor(private readonly sandboxRoot: string) {}

  async prepare(spec: TaskLaunchSpec): Promise<void> {
    if (!spec.cmd) throw new Error('a task without a container image needs a cmd');
  }

  sandboxOf(taskId: string): string {
    return join(this.sandboxRoot, taskId);
  }

  async start(spec: TaskLaunchSpec): Promise<LaunchedTask> {
    const sandbox = this.sandboxOf(spec.taskId);
    mkdirSync(sandbox, { recursive: true });
    const out = openSync(join(sandbox, 'stdout'), 'a');
    const err = openSync(join(sandbox, 'stderr'), 'a');
    try {
      const child = spawn('/bin/sh', ['-c', WRAPPER, spec.cmd!], {
        cwd: sandbox,
        env: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', ...spec.env, MESOS_SANDBOX: sandbox },
        detached: true,
        stdio: ['ignore', out, err],
      });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid!));
        child.once('error', reject);
      });
      child.unref();
      const ref = String(pid);
      writeFileSync(join(sandbox, '.pid'), ref);
      this.children.set(ref, child);
      this.sandboxes.set(ref, sandbox);
      return { ref, ipAddress: null };
    } finally {
      closeSync(out);
      closeSync(err);
    }
  }

  async usage(ref: string): Promise<TaskUsage | undefined> {
    return processGroupUsage(Number(ref));
  }

  wait(ref: string, taskId: string): Promise<TaskExit> {
    if (!this.sandboxes.has(ref)) this.sandboxes.set(ref, this.sandboxOf(taskId));
    const child = this.children.get(ref);
    if (child) {
      return new Promise((resolve) => {
        const done = (code: number | null, signal: NodeJS.Signals | null) => {
          this.children.delete(ref);
          resolve({
            exitCode: code ?? null,
            message: signal
              ? `Command terminated with signal ${signal}`
              : code === 0
                ? 'Command exited with status 0'
                : `Command exited with status ${code}`,
          });
        };
        if (child.exitCode !== null || child.signalCode !== null) done(child.exitCode, child.signalCode);
        else child.once('exit', done);
      });
    }
    // not our child (started by an earlier engine): poll, checking it is still this task's process
    if (!runs(Number(ref), taskId)) return Promise.resolve(this.exitOf(ref));
    return new Promise((resolve) => {
      const poll = setInterval(() => {
        if (runs(Number(ref), taskId)) return;
        clearInterval(poll);
        resolve(this.exitOf(ref));
      }, 500);
      poll.unref();
    });
  }

  private exitOf(ref: string): TaskExit {
    const sandbox = this.sandboxes.get(ref);
    try {
      const code = Number(readFileSync(join(sandbox ?? '', '.exit_status'), 'utf8').trim());
      if (Number.isInteger(code)) return { exitCode: code, message: `Command exited with status ${code}` };
    } catch {
      // no status written: the process group was signalled
    }
    return { exitCode: null, message: 'Command terminated' };
  }

  async stop(ref: string, graceSeconds: number): Promise<void> {
    const pid = Number(ref);
    if (!alive(pid)) return;
    signal(pid, 'SIGTERM');
    const deadline = Date.now() + graceSeconds * 1000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (alive(pid)) signal(pid, 'SIGKILL');
  }

  async locate(taskId: string): Promise<string | undefined> {
    try {
      return readFileSync(join(this.sandboxOf(taskId), '.pid'), 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }

  async isRunning(ref: string, taskId: string): Promise<boolean> {
    return runs(Number(ref), taskId);
  }

  exec(_ref: string, spec: TaskLaunchSpec, command: string, timeoutMs: number): Promise<number | null> {
    return new Promise((resolve) => {
      const child = spawn('/bin/sh', ['-c', command], {
        cwd: this.sandboxOf(spec.taskId),
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...spec.env },
        stdio: 'ignore',
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
      });
      child.once('error', () => resolve(127));
      // killed by the timeout: did not end in time
      child.once('exit', (code) => resolve(code ?? (child.killed ? null : 137)));
    });
  }

  async cleanup(ref: string): Promise<void> {
    this.sandboxes.delete(ref);
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // a zombie is not alive
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** The process is alive and is the one started for `taskId` (pids get reused). */
function runs(pid: number, taskId: string): boolean {
  if (!alive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`MESOS_TASK_ID=${taskId}`);
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}
