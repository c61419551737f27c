/**
 * Docker tasks through the containerizer's Docker driver (the one driver of Theseus). The container
 * carries the engine's labels, so after a restart the engine finds and adopts it; containers of this
 * engine that belong to no known task are removed instead of being left running twice. The
 * container's output is copied into its sandbox's rotated `stdout` and `stderr` (as Mesos's Docker
 * executor copies `docker logs --follow`); Docker keeps its own copy in two bounded json-files.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import {
  ContainerNotFoundError,
  DockerDriver,
  sandboxOutput,
  type ContainerSpec,
  type OutputLimits,
} from '@theseus/containerizer';
import { DEFAULT_SETTINGS, type Logger } from '@theseus/services';
import { ENGINE_LABEL, TASK_LABEL } from './launch-spec.js';
import type { TaskUsage } from '../agent/monitor.js';
import type { LaunchedTask, TaskExit, TaskLaunchSpec, TaskRunner } from './runner.js';

/** The container label naming the task's sandbox, so an adopted container's output goes on to the same files. */
export const SANDBOX_LABEL = 'theseus.engine.sandbox';

/** How long a task's end waits for the last of its output to reach the sandbox. */
const OUTPUT_DRAIN_MS = 2000;

export class DockerRunner implements TaskRunner {
  readonly kind = 'docker' as const;
  /** Output copies running, by container id. */
  private readonly copying = new Map<string, Promise<void>>();

  /** `pull`: `missing` pulls absent images (Marathon's behaviour), `never` only uses local ones. */
  constructor(
    readonly driver: DockerDriver,
    private readonly logger: Logger,
    private readonly pull: 'missing' | 'never' = 'missing',
    private readonly logs: OutputLimits & { dockerFileBytes: number } = DEFAULT_SETTINGS.engine.taskLogs,
  ) {}

  async prepare(spec: TaskLaunchSpec): Promise<void> {
    await this.driver.ensureImage(spec.image!, {
      pull: this.pull === 'never' ? 'never' : spec.forcePullImage ? 'always' : 'missing',
    });
  }

  async start(spec: TaskLaunchSpec): Promise<LaunchedTask> {
    const container: ContainerSpec = {
      name: `mesos-${spec.taskId}`.replace(/[^a-zA-Z0-9_.-]/g, '_'),
      image: spec.image!,
      ...(spec.cmd ? { shell: spec.cmd } : {}),
      ...(spec.args ? { args: spec.args } : {}),
      env: spec.env,
      labels: spec.sandbox ? { ...spec.labels, [SANDBOX_LABEL]: spec.sandbox } : spec.labels,
      cpus: spec.cpus,
      memMb: spec.memMb,
      network: spec.network,
      ports: spec.ports,
      volumes: spec.volumes.map(({ hostPath, containerPath, mode }) => ({ hostPath, containerPath, mode })),
      privileged: spec.privileged,
      ...(spec.user ? { user: spec.user } : {}),
      ...(spec.workingDir ? { workingDir: spec.workingDir } : {}),
      ...(spec.hostname ? { hostname: spec.hostname } : {}),
      init: true,
      stopGraceSeconds: spec.killGraceSeconds,
      logLimits: { maxFileBytes: this.logs.dockerFileBytes, maxFiles: 2 },
    };
    const started = await this.driver.start(container);
    if (spec.sandbox) this.copyOutput(started.id, spec.sandbox, false);
    return { ref: started.id, ipAddress: started.ipAddress };
  }

  /**
   * Copies the container's output into the sandbox until it ends. An adopted container's copy
   * resumes at the second the sandbox files were last written (Docker's `since`), so lines of that
   * second may appear twice and lines written while no engine ran come from Docker's bounded copy.
   */
  private copyOutput(id: string, sandbox: string, resume: boolean): void {
    if (this.copying.has(id)) return;
    const onError = (err: Error): void => {
      this.logger.warn('task output not copied to its sandbox', { container: id, error: err.message });
    };
    let sinceSeconds: number | undefined;
    if (resume) {
      const last = Math.max(0, ...['stdout', 'stderr'].map((name) => lastWritten(join(sandbox, name))));
      if (last > 0) sinceSeconds = Math.floor(last / 1000);
    }
    let out: ReturnType<typeof sandboxOutput>;
    try {
      out = sandboxOutput(sandbox, this.logs, onError);
    } catch (err) {
      onError(err as Error);
      return;
    }
    const copy = this.driver
      .followLogs(id, out.stdout, out.stderr, sinceSeconds === undefined ? {} : { sinceSeconds })
      .catch((err: unknown) => onError(err as Error))
      .finally(() => {
        out.stdout.end();
        out.stderr.end();
        this.copying.delete(id);
      });
    this.copying.set(id, copy);
  }

  async wait(ref: string, _taskId: string): Promise<TaskExit> {
    if (!this.copying.has(ref)) {
      const sandbox = await this.driver.inspect(ref).then(
        (details) => details?.labels[SANDBOX_LABEL],
        () => undefined,
      );
      if (sandbox) this.copyOutput(ref, sandbox, true);
    }
    try {
      const exit = await this.driver.wait(ref);
      const copy = this.copying.get(ref);
      if (copy) await Promise.race([copy, new Promise((resolve) => setTimeout(resolve, OUTPUT_DRAIN_MS).unref())]);
      const detail = exit.oomKilled
        ? 'Container was killed because it ran out of memory'
        : exit.error
          ? exit.error
          : `Container exited with status ${exit.exitCode}`;
      return { exitCode: exit.exitCode, message: detail };
    } catch (err) {
      return { exitCode: null, message: `Container is gone: ${(err as Error).message}` };
    }
  }

  stop(ref: string, graceSeconds: number): Promise<void> {
    return this.driver.stop(ref, graceSeconds);
  }

  async locate(taskId: string): Promise<string | undefined> {
    return (await this.driver.list({ [TASK_LABEL]: taskId }))[0]?.id;
  }

  async isRunning(ref: string, taskId: string): Promise<boolean> {
    const details = await this.driver.inspect(ref);
    return Boolean(details?.running && details.labels[TASK_LABEL] === taskId);
  }

  /** Inside the task's container, as Mesos runs COMMAND checks of Docker tasks, with the task's environment. */
  async exec(ref: string, spec: TaskLaunchSpec, command: string, timeoutMs: number): Promise<number | null> {
    return (await this.driver.exec(ref, command, { env: spec.env, timeoutMs })).exitCode;
  }

  async usage(ref: string): Promise<TaskUsage | undefined> {
    try {
      const u = await this.driver.usage(ref);
      return u.running ? u : undefined;
    } catch (err) {
      if (err instanceof ContainerNotFoundError) return undefined;
      throw err;
    }
  }

  cleanup(ref: string): Promise<void> {
    return this.driver.remove(ref);
  }

  /** Removes this engine's containers that run no known task. */
  async removeUnknown(engineId: string, known: ReadonlySet<string>): Promise<void> {
    for (const c of await this.driver.list({ [ENGINE_LABEL]: engineId })) {
      const taskId = c.labels[TASK_LABEL];
      if (taskId && known.has(taskId)) continue;
      this.logger.warn('removing a container of no known task', { container: c.id, taskId });
      const failed = (action: string) => (err: unknown) =>
        this.logger.warn(`${action} a container of no known task failed`, { container: c.id, error: String(err) });
      await this.driver.stop(c.id, 1).catch(failed('stopping'));
      await this.driver.remove(c.id).catch(failed('removing'));
    }
  }
}

/** A Docker runner when the Engine answers, else undefined. */
export async function dockerRunnerIfAvailable(
  logger: Logger,
  options: {
    socketPath?: string;
    pull?: 'missing' | 'never';
    taskLogs?: OutputLimits & { dockerFileBytes: number };
  } = {},
): Promise<DockerRunner | undefined> {
  const driver = new DockerDriver({ ...(options.socketPath ? { socketPath: options.socketPath } : {}), logger });
  try {
    await driver.ping();
  } catch {
    return undefined;
  }
  return new DockerRunner(driver, logger, options.pull ?? 'missing', options.taskLogs);
}

function lastWritten(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
