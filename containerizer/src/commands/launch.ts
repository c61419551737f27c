/**
 * `launch`: start the container (pulling its image when needed) and return at once. For command
 * tasks in `host` mode, also start the slave's mesos-executor on the host with `--override`
 * pointing at `observe`, so the executor registers as `<taskId>` and reports the task's end.
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { join } from 'node:path';
import { lookupHostUser } from '../launch/host-user.js';
import { detectGeneration, planLaunch, pairPorts } from '../launch/plan.js';
import { DockerRequestError } from '../docker/errors.js';
import { decodeLaunch } from '../protocol/messages.js';
import { LaunchRefusedError } from '../protocol/errors.js';
import { checkContainerId, type ContainerState } from '../state/store.js';
import { processStartTime } from '../state/lock.js';
import type { ProgramContext } from './context.js';

export async function launch(ctx: ProgramContext, record: Uint8Array): Promise<void> {
  const message = decodeLaunch(record, detectGeneration(ctx.config, ctx.io.env) === '1.0' ? '1.0.4' : '0.22.0');
  const containerId = checkContainerId(message.container_id.value);
  const plan = planLaunch(message, ctx.config, ctx.io.env);
  const { store, log } = ctx;
  const driver = await ctx.docker();

  const lock = await store.lock(containerId);
  let startedId: string | undefined;
  let ours = false;
  try {
    if (store.read(containerId)) throw new LaunchRefusedError(`container ${containerId} was already launched`);
    ours = true;
    const owner = plan.runAs === undefined ? undefined : await lookupHostUser(plan.runAs);
    if (owner) plan.spec.user = `${owner.uid}:${owner.gid}`;
    if (plan.uris.length) {
      if (!message.directory) throw new LaunchRefusedError('the launch has URIs to fetch but no sandbox directory');
      const { fetchUris } = await import('../launch/fetch-uris.js');
      const fetched = await fetchUris(plan.uris, message.directory, ctx.config.fetch, owner);
      log.info('fetched URIs', { containerId, files: fetched });
    }
    const ensureImage = () =>
      driver.ensureImage(plan.spec.image, {
        pull: plan.pull,
        timeoutMs: ctx.config.image.pullTimeoutSeconds * 1000,
        ...(plan.auth ? { auth: plan.auth } : {}),
      });
    // as `docker run` does: create first, pull only when the Engine has no such image (one round trip less)
    const imageFirst = plan.pull !== 'missing' || plan.pairWithExposedPorts;
    if (imageFirst) await ensureImage();
    if (plan.pairWithExposedPorts) {
      const paired = pairPorts(
        plan.allocatedPorts,
        await driver.exposedPorts(plan.spec.image),
        ctx.config.maxIdentityPorts,
      );
      plan.spec.ports = paired.ports;
      if (paired.unbound > 0)
        log.warn('allocated ports left unbound', {
          containerId,
          unbound: paired.unbound,
          maxIdentityPorts: ctx.config.maxIdentityPorts,
        });
    }
    // logging now also loads the logger while the Engine creates the container
    log.info('launching', { containerId, image: plan.spec.image, mode: plan.mode, network: plan.spec.network });
    const started = await driver.start(plan.spec).catch(async (err: unknown) => {
      if (imageFirst || !(err instanceof DockerRequestError && err.statusCode === 404)) throw err;
      await ensureImage();
      return driver.start(plan.spec);
    });
    startedId = started.id;
    const state: ContainerState = {
      containerId,
      dockerId: started.id,
      dockerName: started.name,
      image: plan.spec.image,
      executorId: plan.executorId,
      ...(plan.taskId ? { taskId: plan.taskId } : {}),
      ...(plan.frameworkId ? { frameworkId: plan.frameworkId } : {}),
      ...(message.directory ? { sandbox: message.directory } : {}),
      mode: plan.mode,
      generation: plan.generation,
      launchedAt: started.startedAt,
      pid: started.pid,
      ...(processStartTime(started.pid) ? { pidStartTime: processStartTime(started.pid) } : {}),
      ...(plan.spec.cpus !== undefined ? { cpus: plan.spec.cpus } : {}),
      ...(plan.spec.memMb !== undefined ? { memMb: plan.spec.memMb } : {}),
      ...(plan.spec.stopGraceSeconds !== undefined ? { stopGraceSeconds: plan.spec.stopGraceSeconds } : {}),
    };
    store.write(state);
    if (plan.hostExecutor) {
      const pid = startHostExecutor(ctx, plan.hostExecutor, state);
      store.write({ ...state, executorPid: pid, executorStartTime: processStartTime(pid) });
    }
    log.info('launched', { containerId, docker: started.name, image: plan.spec.image, mode: plan.mode });
  } catch (err) {
    if (startedId)
      await driver
        .remove(startedId)
        .catch((removeErr: unknown) =>
          log.warn('removing the container of a failed launch failed', { containerId, error: String(removeErr) }),
        );
    if (ours) store.remove(containerId);
    throw err;
  } finally {
    lock.release();
  }
}

/** Environment of the host executor: the slave's launch environment without LIBPROCESS_PORT/IP (it binds its own). */
function executorEnv(ctx: ProgramContext, state: ContainerState): NodeJS.ProcessEnv {
  const env = { ...ctx.io.env };
  delete env.LIBPROCESS_PORT;
  delete env.LIBPROCESS_IP;
  env.MESOS_EXECUTOR_ID = state.executorId;
  if (state.frameworkId) env.MESOS_FRAMEWORK_ID = state.frameworkId;
  if (state.sandbox) env.MESOS_DIRECTORY = state.sandbox;
  return env;
}

/** Opens a sandbox output file for appending, never through a symlink the task may have put there. */
function appendTo(dir: string, name: string): number {
  try {
    return openSync(
      join(dir, name),
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
      0o644,
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP')
      throw new LaunchRefusedError(
        `the sandbox's ${name} is a symbolic link: the executor's output is never written through one`,
      );
    throw err;
  }
}

function startHostExecutor(ctx: ProgramContext, executor: string, state: ContainerState): number {
  const outDir = state.sandbox ?? ctx.store.dir(state.containerId);
  const out = appendTo(outDir, 'stdout');
  let err: number;
  try {
    err = appendTo(outDir, 'stderr');
  } catch (e) {
    closeSync(out);
    throw e;
  }
  try {
    const configArgs = ctx.config.source ? ['--config', ctx.config.source] : [];
    const child = spawn(executor, ['--override', ...ctx.io.self, ...configArgs, 'observe', state.containerId], {
      detached: true,
      stdio: ['ignore', out, err],
      cwd: state.sandbox ?? '/',
      env: executorEnv(ctx, state),
    });
    if (child.pid === undefined) throw new LaunchRefusedError(`cannot start the host executor ${executor}`);
    child.on('error', (err) =>
      ctx.log.error('the host executor failed', { containerId: state.containerId, executor, error: String(err) }),
    );
    child.unref();
    ctx.log.info('started host executor', { containerId: state.containerId, executor, pid: child.pid });
    return child.pid;
  } finally {
    closeSync(out);
    closeSync(err);
  }
}
