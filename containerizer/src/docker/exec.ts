/**
 * A shell command run inside a running container through the Engine's exec (create, start, inspect),
 * the way Mesos runs a COMMAND health check of a Docker task. The output is read and dropped. Past
 * the time limit the command counts as failed: its stream is closed and, when its process is visible
 * from here, its process group is killed, so hung checks neither hang the caller nor pile up.
 */
import { readFileSync } from 'node:fs';
import type Docker from 'dockerode';
import type { ExecOptions, ExecResult } from './types.js';

/** Runs one Engine request of this exec, mapping its failure to a driver error. */
export type ExecRequest = <T>(action: string, request: () => Promise<T>) => Promise<T>;

const DEFAULT_TIMEOUT_MS = 20_000;
/** The Engine can close the output stream a moment before it records the exit code. */
const EXIT_CODE_POLL_MS = 20;

export async function execInContainer(
  docker: Docker,
  request: ExecRequest,
  id: string,
  command: string,
  options: ExecOptions = {},
): Promise<ExecResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const abort = new AbortController();
  let exec: Docker.Exec | undefined;
  const ran = (async (): Promise<ExecResult> => {
    exec = await request(`create exec in container ${id}`, () =>
      docker.getContainer(id).exec({
        Cmd: ['/bin/sh', '-c', command],
        Env: Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
        AttachStdout: true,
        AttachStderr: true,
        abortSignal: abort.signal,
      }),
    );
    const started = exec;
    const output = await request(`start exec in container ${id}`, () =>
      started.start({ Detach: false, Tty: false, abortSignal: abort.signal }),
    );
    await drain(output);
    for (;;) {
      const info = await request(`inspect exec in container ${id}`, () =>
        started.inspect({ abortSignal: abort.signal }),
      );
      if (!info.Running && info.ExitCode !== null) return { exitCode: info.ExitCode, timedOut: false };
      await new Promise((resolve) => setTimeout(resolve, EXIT_CODE_POLL_MS));
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<ExecResult>((resolve) => {
    timer = setTimeout(() => resolve({ exitCode: null, timedOut: true }), timeoutMs);
  });
  try {
    const result = await Promise.race([ran, deadline]);
    if (result.timedOut) {
      // The timeout is the result; the abandoned exec is aborted next and its rejection is that abort.
      // eslint-disable-next-line no-restricted-syntax
      ran.catch(() => undefined);
      abort.abort();
      if (exec) await killLeftover(exec);
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

function drain(stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', () => resolve());
    stream.resume();
  });
}

/**
 * Kills the process group the Engine started for the exec (runc makes it a session leader). The pid
 * is the host's; it is used only when its cgroup names the container, as in another pid namespace
 * the same number may be an unrelated process.
 */
async function killLeftover(exec: Docker.Exec): Promise<void> {
  try {
    const info = await exec.inspect({ abortSignal: AbortSignal.timeout(5_000) });
    if (
      !info.Running ||
      !(info.Pid > 0) ||
      !readFileSync(`/proc/${info.Pid}/cgroup`, 'utf8').includes(info.ContainerID)
    )
      return;
    process.kill(-info.Pid, 'SIGKILL');
  } catch {
    // the command ended meanwhile, or its process is not visible from here: the Engine reaps it when it ends
  }
}
