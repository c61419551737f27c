/**
 * The per-container calls after launch: `wait` (blocks; records the end), `usage`, `update`,
 * `destroy`, and `observe` (what the host executor runs for a command task). No call owns the
 * container's lifetime, so the slave SIGKILLing `wait` or `observe` harms nothing.
 */
import { readFileSync } from 'node:fs';
import { ContainerNotFoundError, DockerUnavailableError } from '../docker/errors.js';
import { readCgroupUsage } from '../docker/cgroup-usage.js';
import { LABELS, limitsOf } from '../launch/plan.js';
import { decodeInput, encodeResourceStatistics, encodeTermination } from '../protocol/messages.js';
import { StateMismatchError, UnknownContainerError } from '../protocol/errors.js';
import type { Resource, ResourceStatistics, TerminationFields } from '../protocol/types.js';
import { processAlive } from '../state/lock.js';
import { sandboxOutput } from '../sandbox/output.js';
import { checkContainerId, type ContainerState, type ExitRecord } from '../state/store.js';
import type { ProgramContext } from './context.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function known(ctx: ProgramContext, containerId: string): ContainerState {
  const state = ctx.store.read(checkContainerId(containerId));
  if (!state) throw new UnknownContainerError(containerId);
  return state;
}

/** What the slave is told: waitpid-encoded status (exit N → N << 8), `killed` for an OOM kill. */
export function terminationOf(exit: ExitRecord): TerminationFields {
  const code = exit.exitCode & 0xff;
  let message: string;
  if (exit.oomKilled) message = 'container exceeded its memory limit and was killed (OOM)';
  else if (exit.error) message = `container failed: ${exit.error}`;
  else if (exit.destroyed) message = `container destroyed (exit code ${code})`;
  else message = `container exited with code ${code}`;
  return { killed: exit.oomKilled, message, status: code << 8 };
}

/** Waits for the container, waiting out Engine restarts (the slave has no timeout on wait and kills it on destroy). */
async function waitThroughRestarts(ctx: ProgramContext, dockerId: string) {
  const driver = await ctx.docker();
  for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
    try {
      return await driver.wait(dockerId);
    } catch (err) {
      if (!(err instanceof DockerUnavailableError)) throw err;
      ctx.log.warn('Docker Engine unavailable while waiting; retrying', { error: err.message, retryInMs: delay });
      await sleep(delay);
    }
  }
}

/** The container's end: recorded earlier, or waited for now and recorded. */
async function awaitExit(ctx: ProgramContext, state: ContainerState): Promise<ExitRecord> {
  const recorded = ctx.store.readExit(state.containerId);
  if (recorded) return recorded;
  let exit: ExitRecord;
  try {
    const ended = await waitThroughRestarts(ctx, state.dockerId);
    exit = { ...ended, destroyed: false };
  } catch (err) {
    if (!(err instanceof ContainerNotFoundError)) throw err;
    exit = ctx.store.readExit(state.containerId) ?? {
      exitCode: 137,
      oomKilled: false,
      finishedAt: new Date().toISOString(),
      error: 'the container disappeared from the Docker Engine',
      destroyed: false,
    };
  }
  // whoever recorded first (destroy, observe, another wait) wins; the records agree on the exit
  const first = ctx.store.readExit(state.containerId);
  if (first) return first;
  ctx.store.writeExit(state.containerId, exit);
  return exit;
}

export async function wait(ctx: ProgramContext, record: Uint8Array): Promise<Uint8Array> {
  const id = (decodeInput('wait', record).container_id as { value: string }).value;
  const state = known(ctx, id);
  const exit = await awaitExit(ctx, state);
  // the host executor must report the task's end to the slave before wait answers
  if (state.executorPid) {
    const deadline = Date.now() + ctx.config.executorGraceSeconds * 1000;
    while (processAlive(state.executorPid, state.executorStartTime) && Date.now() < deadline) await sleep(50);
  }
  ctx.log.info('container ended', { containerId: id, exitCode: exit.exitCode, oomKilled: exit.oomKilled });
  return encodeTermination(terminationOf(exit), state.generation);
}

/**
 * Counters from the container's cgroup while its first process lives (no Engine call, so no
 * Docker client is even loaded); otherwise, or when the cgroup is not visible, from the Engine.
 */
export async function usage(ctx: ProgramContext, record: Uint8Array): Promise<Uint8Array> {
  const id = (decodeInput('usage', record).container_id as { value: string }).value;
  const state = known(ctx, id);
  const stats: ResourceStatistics = { timestamp: Date.now() / 1000 };
  const counters =
    state.pid && processAlive(state.pid, state.pidStartTime) ? readCgroupUsage(state.pid, state.dockerId) : undefined;
  if (counters) {
    stats.cpus_user_time_secs = counters.cpuUserSeconds;
    stats.cpus_system_time_secs = counters.cpuSystemSeconds;
    if (state.cpus !== undefined) stats.cpus_limit = state.cpus;
    stats.mem_rss_bytes = counters.memRssBytes;
    if (state.memMb !== undefined) stats.mem_limit_bytes = Math.round(state.memMb * 1024 * 1024);
    return encodeResourceStatistics(stats);
  }
  try {
    const u = await (await ctx.docker()).usage(state.dockerId);
    stats.timestamp = u.timestamp;
    stats.cpus_user_time_secs = u.cpuUserSeconds;
    stats.cpus_system_time_secs = u.cpuSystemSeconds;
    if (u.cpusLimit !== null) stats.cpus_limit = u.cpusLimit;
    stats.mem_rss_bytes = u.memRssBytes;
    if (u.memLimitBytes !== null) stats.mem_limit_bytes = u.memLimitBytes;
  } catch (err) {
    // a removed container still gets a valid record
    if (!(err instanceof ContainerNotFoundError)) throw err;
  }
  return encodeResourceStatistics(stats);
}

export async function update(ctx: ProgramContext, record: Uint8Array): Promise<void> {
  const message = decodeInput('update', record);
  const id = (message.container_id as { value: string }).value;
  const state = known(ctx, id);
  const limits = limitsOf((message.resources as Resource[] | undefined) ?? []);
  const lock = await ctx.store.lock(id);
  try {
    const verified = await verifiedContainer(ctx, state);
    if (!verified) throw new ContainerNotFoundError(state.dockerId);
    await (await ctx.docker()).update(verified.id, limits);
    const current = ctx.store.read(id) ?? state;
    ctx.store.write({ ...current, ...limits });
    ctx.log.info('updated limits', { containerId: id, ...limits });
  } catch (err) {
    // destroyed meanwhile: there is nothing left to limit
    if (!(err instanceof ContainerNotFoundError)) throw err;
    ctx.log.info('update of a removed container: nothing to do', { containerId: id });
  } finally {
    lock.release();
  }
}

/**
 * The Docker container a state record names, when it carries this instance's labels for that Mesos
 * container; `undefined` when it is gone. A record naming any other container is refused.
 */
async function verifiedContainer(ctx: ProgramContext, state: ContainerState) {
  const details = await (await ctx.docker()).inspect(state.dockerId);
  if (!details) return undefined;
  if (
    details.labels[LABELS.instance] !== ctx.config.instance ||
    details.labels[LABELS.containerId] !== state.containerId
  ) {
    throw new StateMismatchError(
      state.containerId,
      `Docker container ${details.name} does not carry its labels (${LABELS.instance}=${ctx.config.instance}, ${LABELS.containerId}=${state.containerId})`,
    );
  }
  return details;
}

/** Whether `pid` is still the host executor started for this container (`... observe <containerId>`). */
function isOurExecutor(state: ContainerState): boolean {
  const pid = state.executorPid;
  if (!pid || !processAlive(pid, state.executorStartTime)) return false;
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const at = argv.indexOf('observe');
    return at >= 0 && argv[at + 1] === state.containerId;
  } catch {
    return false;
  }
}

export async function destroy(ctx: ProgramContext, record: Uint8Array): Promise<void> {
  const id = checkContainerId((decodeInput('destroy', record).container_id as { value: string }).value);
  if (!ctx.store.read(id)) {
    ctx.log.info('destroy of an unknown container: nothing to do', { containerId: id });
    return;
  }
  const lock = await ctx.store.lock(id);
  try {
    const state = ctx.store.read(id);
    if (!state) return;
    const driver = await ctx.docker();
    const verified = await verifiedContainer(ctx, state);
    if (verified) await driver.stop(verified.id, state.stopGraceSeconds ?? ctx.config.stopGraceSeconds);
    if (!ctx.store.readExit(id)) {
      const details = verified ? await driver.inspect(verified.id) : undefined;
      ctx.store.writeExit(id, {
        exitCode: details?.exitCode ?? 137,
        oomKilled: details?.oomKilled ?? false,
        finishedAt: details?.finishedAt ?? new Date().toISOString(),
        error: details?.error ?? null,
        destroyed: true,
      });
    }
    if (state.executorPid && isOurExecutor(state)) {
      try {
        process.kill(-state.executorPid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    if (verified) await driver.remove(verified.id);
    ctx.log.info('destroyed', { containerId: id });
  } finally {
    lock.release();
  }
}

/**
 * `observe <containerId>`: run by the host mesos-executor in place of the task's command. Copies the
 * container's output to its own stdout/stderr (the sandbox files), exits with the container's exit
 * code, and stops the container when the executor kills the task (SIGTERM).
 */
export async function observe(ctx: ProgramContext, containerId: string): Promise<number> {
  const state = known(ctx, containerId);
  const driver = await ctx.docker();
  const onSignal = () => {
    ctx.log.info('task killed: stopping its container', { containerId });
    driver
      .stop(state.dockerId, state.stopGraceSeconds ?? ctx.config.stopGraceSeconds)
      .catch((err: unknown) => ctx.log.warn('stopping the container failed', { containerId, error: String(err) }));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // into the sandbox's rotated files when there is one; else this program's own output (the executor's files)
  const files = state.sandbox
    ? sandboxOutput(state.sandbox, ctx.config.taskLogs, (err) =>
        ctx.log.warn('task output not copied to its sandbox', { containerId, error: err.message }),
      )
    : undefined;
  const output = driver
    .followLogs(state.dockerId, files?.stdout ?? process.stdout, files?.stderr ?? process.stderr)
    .catch((err: unknown) =>
      ctx.log.warn('following the container output failed', { containerId, error: String(err) }),
    );
  const exit = await awaitExit(ctx, state);
  await Promise.race([output, sleep(2000)]);
  files?.stdout.end();
  files?.stderr.end();
  return exit.exitCode & 0xff;
}
