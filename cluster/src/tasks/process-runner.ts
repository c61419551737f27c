/**
 * Runs a task as a local process group: `/bin/sh -c <cmd>` in a sandbox directory under the data
 * directory. Its stdout and stderr go through a sandbox logger process (agent/sandbox-logger) into
 * the sandbox's rotated `stdout` and `stderr`, like a Mesos sandbox with the logrotate logger.
 * Processes (the task and its logger) are detached, so they outlive the engine and are adopted after
 * a restart; the wrapper shell writes the exit code to the sandbox so it is known even when the
 * engine was not the parent any more.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { OutputLimits } from '@theseus/containerizer';
import { DEFAULT_SETTINGS } from '@theseus/services';
import { processGroupUsage } from '../agent/process-usage.js';
import type { TaskUsage } from '../agent/monitor.js';
import type { LaunchedTask, TaskExit, TaskLaunchSpec, TaskRunner } from './runner.js';

const SELF = import.meta.url;
/** Compiled, the logger is a .js beside this module's; run from sources (tsx), a .ts run with the same loader. */
const FROM_SOURCES = SELF.endsWith('.ts');
const LOGGER = new URL(`../agent/sandbox-logger.${FROM_SOURCES ? 'ts' : 'js'}`, SELF).pathname;

const WRAPPER = '/bin/sh -c "$0"; code=$?; echo $code > .exit_status; exit $code';

export class ProcessRunner implements TaskRunner {
  readonly kind = 'process' as const;
  private readonly children = new Map<string, ChildProcess>();
  private readonly sandboxes = new Map<string, string>();

  constructor(
    private readonly sandboxRoot: string,
    private readonly logs: OutputLimits = DEFAULT_SETTINGS.engine.taskLogs,
  ) {}

  async prepare(spec: TaskLaunchSpec): Promise<void> {
    if (!spec.cmd) throw new Error('a task without a container image needs a cmd');
  }

  sandboxOf(taskId: string): string {
    return join(this.sandboxRoot, taskId);
  }

  async start(spec: TaskLaunchSpec): Promise<LaunchedTask> {
    const sandbox = this.sandboxOf(spec.taskId);
    mkdirSync(sandbox, { recursive: true });
    const logger = spawn(
      process.execPath,
      [
        ...(FROM_SOURCES ? loaderArgs(process.execArgv) : []),
        LOGGER,
        sandbox,
        String(this.logs.maxFileBytes),
        String(this.logs.maxFiles),
      ],
      { detached: true, stdio: ['pipe', 'ignore', 'ignore', 'pipe'] },
    );
    const out = logger.stdin!;
    const err = logger.stdio[3] as Readable & Writable;
    try {
      await new Promise<void>((resolve, reject) => {
        logger.once('spawn', resolve);
        logger.once('error', reject);
      });
      logger.unref();
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
      // the task holds the pipes now; the logger ends when the task and everything it started closed them
      out.destroy();
      err.destroy();
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

const LOADER_FLAGS = new Set([
  '--import',
  '--require',
  '-r',
  '--loader',
  '--experimental-loader',
  '--conditions',
  '-C',
]);

/** The flags that let node load TypeScript sources (tsx), without the rest (`--test`, `--inspect`...). */
function loaderArgs(execArgv: string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const flag = arg.split('=')[0]!;
    if (!LOADER_FLAGS.has(flag)) continue;
    kept.push(arg);
    if (!arg.includes('=') && i + 1 < execArgv.length) kept.push(execArgv[++i]!);
  }
  return kept;
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
