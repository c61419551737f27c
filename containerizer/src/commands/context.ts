/** What every subcommand works with: configuration, state, the Docker driver and the log. */
import { loadConfig, type ContainerizerConfig } from '../config.js';
import type { DockerDriver } from '../docker/driver.js';
import { engineSocket } from '../docker/engine-socket.js';
import { programLog, type ProgramLog } from '../log.js';
import { StateStore } from '../state/store.js';
import type { ProgramIO } from '../program-io.js';

export interface ProgramContext {
  config: ContainerizerConfig;
  store: StateStore;
  log: ProgramLog;
  /** The Docker driver, loaded on first use: `usage` usually answers from the cgroup without it. */
  docker(): Promise<DockerDriver>;
  /** The call's environment, working directory and streams. */
  io: ProgramIO;
}

export async function programContext(configPath: string | undefined, io: ProgramIO): Promise<ProgramContext> {
  const config = await loadConfig({
    env: io.env,
    cwd: io.cwd,
    ...(configPath === undefined ? {} : { path: configPath }),
  });
  const log = programLog(config.log, io.stderr);
  let driver: Promise<DockerDriver> | undefined;
  return {
    config,
    store: new StateStore(config.stateDir, config.instance),
    log,
    docker: () =>
      (driver ??= import('../docker/driver.js').then(
        ({ DockerDriver }) =>
          new DockerDriver({
            socketPath: config.docker.socketPath ?? engineSocket(io.env),
            requestTimeoutMs: config.docker.requestTimeoutMs,
            logger: log,
          }),
      )),
    io,
  };
}
